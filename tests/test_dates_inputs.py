"""Dates, date inputs, claims on completion, drafts and buttons (issue 13, "dates, inputs, words
and buttons"): what a prosecutor reads and types, in Russian, Kazakh and English."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask_babel import force_locale

from tests.test_web_queue import csrf, sign_in
from tests.test_web_workspace import PENALTY, app, page, start, web  # noqa: F401  (fixtures)
from web.forms import coerce, fields_of, parse_local_date, problem_texts
from web.i18n import input_value, local_date, local_time, local_value
from workflows.users import UserDirectory

INSTANT = datetime(2026, 12, 2, 9, 5, 7, tzinfo=UTC)  # 14:05 in Almaty


# -- shown dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "shown", "day"),
    [
        ("ru", "02.12.2026, 14:05", "02.12.2026"),
        ("kk", "02.12.2026, 14:05", "02.12.2026"),  # CLDR's short Kazakh form says 02.12.26
        ("en", "2 Dec 2026, 14:05", "2 Dec 2026"),  # not the US 12/2/26, 2:05 PM
    ],
)
def test_dates_have_a_four_digit_year_day_first_and_almaty_time(
    app,  # noqa: F811
    locale: str,
    shown: str,
    day: str,
) -> None:
    with app.test_request_context(), force_locale(locale):
        assert local_time(INSTANT) == shown
        assert local_time(INSTANT, seconds=True) == shown + ":07"
        assert local_date(date(2026, 12, 2)) == day
        assert local_value("2026-12-02") == day  # a stored date
        assert local_value("2026-12-02T09:05:00+00:00") == shown  # a stored instant
        assert local_value("lawful") == "lawful"  # anything else is left alone


def test_an_input_shows_the_stored_value_in_the_typed_format(app) -> None:  # noqa: F811
    assert input_value("2026-11-24", "date") == "24.11.2026"
    assert input_value("2026-11-24T04:30:00+00:00", "datetime") == "24.11.2026 09:30"
    assert input_value("24.11.26", "date") == "24.11.26"  # what was typed stays as typed


# -- typed dates -------------------------------------------------------------------------------


def _start_fields(app, locale: str = "ru"):  # type: ignore[no-untyped-def]  # noqa: F811
    engine = app.extensions["nadzor.engine"]
    definition = engine.repository.get(engine.repository.latest_id("penalty_room_check"))
    return fields_of(definition.start_form(), locale)


def test_coerce_reads_day_first_dates_and_almaty_times(app) -> None:  # noqa: F811
    with app.test_request_context():
        fields = _start_fields(app)
        values = coerce(fields, {"placed_at": "24.11.2026 09:30", "resolution_date": "24.11.2026"})
        assert values["placed_at"] == "2026-11-24T09:30:00+05:00"
        assert values["resolution_date"] == "2026-11-24"
        # what the page shows may be typed back; ISO still works for those who paste it
        assert coerce(fields, {"resolution_date": "2 Dec 2026"})["resolution_date"] == "2026-12-02"
        assert coerce(fields, {"resolution_date": "2 желтоқсан 2026"})["resolution_date"] == (
            "2026-12-02"
        )
        assert coerce(fields, {"placed_at": "2026-11-24T09:30"})["placed_at"] == (
            "2026-11-24T09:30:00+05:00"
        )
        # not a date: passed on as typed, so that the engine names the field's problem
        for typed in ("24.11.26", "31.02.2026", "11/24/2026"):
            assert coerce(fields, {"resolution_date": typed})["resolution_date"] == typed
        assert coerce(fields, {"placed_at": "24.11.2026"})["placed_at"] == "24.11.2026"
    with pytest.raises(ValueError):
        parse_local_date("12/2/26")


def test_the_start_page_takes_dates_as_typed_and_explains_a_wrong_one(
    web,  # noqa: F811
    domain_engine,
) -> None:
    sign_in(web, "tlg.prosecutor")
    web.post("/language", data={"locale": "kk", "csrf_token": csrf(page(web, "/queue"))})
    form = page(web, "/start/penalty_room_check")
    assert 'type="date"' not in form and 'type="datetime-local"' not in form
    assert 'inputmode="numeric"' in form and "КК.АА.ЖЖЖЖ" in form  # the format, in Kazakh
    typed = {
        "csrf_token": csrf(form),
        "institution": "UK-161-2",
        "convict_name": "Нуров Асхат",
        "placed_at": "24.11.2026 09:30",
        "resolution_number": "12",
        "resolution_date": "24.11.26",  # a two-digit year is not guessed
        "grounds": "Режимді бұзу",
        "duration_days": "7",
    }
    bad = web.post("/start/penalty_room_check", data=typed)
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Күн танылмады." in text  # "the date could not be read"
    assert 'value="24.11.26"' in text and 'value="24.11.2026 09:30"' in text  # kept as typed
    good = web.post("/start/penalty_room_check", data={**typed, "resolution_date": "24.11.2026"})
    assert good.status_code == 302
    iid = int(good.headers["Location"].rsplit("/", 1)[1])
    data = domain_engine.runtime.data(iid)
    assert data["resolution_date"] == "2026-11-24"
    assert datetime.fromisoformat(data["placed_at"]) == datetime(2026, 11, 24, 4, 30, tzinfo=UTC)


def test_the_api_keeps_its_iso_wording_for_a_wrong_date(app) -> None:  # noqa: F811
    from engine.errors import FieldProblem, ValidationFailed

    failed = ValidationFailed({"resolution_date": FieldProblem("not_a_date", "bad")})
    with app.test_request_context(), force_locale("en"):
        assert "YYYY-MM-DD" in problem_texts(failed)["resolution_date"]
        page_text = problem_texts(failed, _start_fields(app, "en"))["resolution_date"]
        assert "DD.MM.YYYY" in page_text and "YYYY-MM-DD" not in page_text


# -- completing without claiming ---------------------------------------------------------------


def _events(engine, iid: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(e["event_type"], e["actor"]) for e in engine.history.events(iid)]


DONE = {"placement_lawful": True, "conditions_lawful": True, "findings": "Нарушений нет"}


def test_completing_an_unclaimed_task_through_the_api_records_the_claim(
    app,  # noqa: F811
    domain_engine,
) -> None:
    iid, guid = start(domain_engine)
    token = UserDirectory(domain_engine.db).issue_token("tlg.prosecutor2")
    done = app.test_client().post(
        f"/api/v1/tasks/{guid}/complete",
        json={"data": DONE},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert done.status_code == 200, done.json
    task = domain_engine.tasks.get(guid)
    assert task.assignee == "tlg.prosecutor2" and task.completed_by == "tlg.prosecutor2"
    kinds = _events(domain_engine, iid)
    claimed = kinds.index(("task_claimed", "tlg.prosecutor2"))
    assert kinds[claimed + 1] == ("task_completed", "tlg.prosecutor2")


def test_completing_an_unclaimed_task_on_its_page_records_the_claim(
    web,  # noqa: F811
    domain_engine,
) -> None:
    iid, guid = start(domain_engine)
    sign_in(web, "tlg.prosecutor")
    form = page(web, f"/tasks/{guid}")
    assert 'action="complete"' in form or 'value="complete"' in form
    done = web.post(
        f"/tasks/{guid}",
        data={
            "csrf_token": csrf(form),
            "action": "complete",
            "placement_lawful": "on",
            "conditions_lawful": "on",
            "findings": "Нарушений нет",
        },
    )
    assert done.status_code == 302
    assert domain_engine.tasks.get(guid).assignee == "tlg.prosecutor"
    assert ("task_claimed", "tlg.prosecutor") in _events(domain_engine, iid)


def test_a_claimed_task_completed_by_its_holder_is_not_claimed_twice(domain_engine) -> None:
    domain_engine.repository.publish(PENALTY, now=domain_engine.clock.now())
    iid, guid = start(domain_engine)
    domain_engine.tasks.claim(guid, actor="tlg.prosecutor")
    domain_engine.tasks.complete(guid, DONE, actor="tlg.prosecutor")
    assert [k for k, _ in _events(domain_engine, iid)].count("task_claimed") == 1


# -- drafts ------------------------------------------------------------------------------------


def test_saving_a_draft_says_saved_and_a_later_visit_says_restored(
    web,  # noqa: F811
    domain_engine,
) -> None:
    _, guid = start(domain_engine)
    sign_in(web, "tlg.prosecutor")
    form = page(web, f"/tasks/{guid}")
    assert 'id="draft-note"' not in form
    web.post(
        f"/tasks/{guid}", data={"csrf_token": csrf(form), "action": "draft", "findings": "Черновик"}
    )
    right_after = page(web, f"/tasks/{guid}")
    assert "Черновик сохранён" in right_after and 'id="draft-note"' not in right_after
    later = page(web, f"/tasks/{guid}")
    assert 'id="draft-note"' in later and "Черновик сохранён" not in later
    assert "Черновик</textarea>" in later


# -- buttons -----------------------------------------------------------------------------------


def _buttons(html: str) -> set[str]:
    names = {
        "claim": "/claim",
        "unclaim": "/unclaim",
        "delegate": 'id="delegate"',
        "complete": 'value="complete"',
        "draft": 'value="draft"',
    }
    return {name for name, mark in names.items() if mark in html}


def test_the_task_page_offers_only_what_the_user_may_do(web, app, domain_engine) -> None:  # noqa: F811
    _, guid = start(domain_engine)
    sign_in(web, "tlg.prosecutor")
    assert _buttons(page(web, f"/tasks/{guid}")) == {"claim", "complete", "draft", "delegate"}
    domain_engine.tasks.claim(guid, actor="tlg.prosecutor")
    assert _buttons(page(web, f"/tasks/{guid}")) == {"unclaim", "complete", "draft", "delegate"}

    colleague = app.test_client()
    sign_in(colleague, "tlg.prosecutor2")  # someone else holds it: nothing to press
    assert _buttons(page(colleague, f"/tasks/{guid}")) == set()

    head = app.test_client()
    sign_in(head, "tlg.head")  # a head may take it back or hand it on, not complete it
    assert _buttons(page(head, f"/tasks/{guid}")) == {"unclaim", "delegate"}

    auditor = app.test_client()
    sign_in(auditor, "tlg.auditor")  # reads, acts on nothing
    assert _buttons(page(auditor, f"/tasks/{guid}")) == set()
