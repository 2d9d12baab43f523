"""The built-in pre-trial register: unique numbers, the same number when asked twice."""

from __future__ import annotations

from workflows.pretrial import LocalPretrialRegister, pretrial_service


def test_numbers_are_unique_and_registration_is_idempotent_per_case(domain_engine, clock) -> None:
    register = LocalPretrialRegister(domain_engine.db, clock)
    first = register.register("TR-1", {"victim_name": "А."})
    second = register.register("TR-2", {"victim_name": "Б."})
    again = register.register("TR-1", {"victim_name": "А."})
    assert first.created and second.created and not again.created
    assert first.number != second.number
    assert again.number == first.number
    assert first.number == "ERDR-2026-000001"


def test_the_service_task_needs_a_case_reference(domain_engine, clock) -> None:
    import pytest

    handler = pretrial_service(LocalPretrialRegister(domain_engine.db, clock))
    assert handler({"case_ref": "TR-9"}, {})["number"].startswith("ERDR-")
    with pytest.raises(ValueError, match="case reference"):
        handler({}, {})
