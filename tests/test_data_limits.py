"""Data that cannot hurt (issue 8, point 3): case data is plain JSON within documented limits,
and no value can be read back as a serializer type, so a case never breaks for ever."""

from __future__ import annotations

from typing import Any

import pytest

from engine.data import MAX_BYTES, MAX_DEPTH, MAX_ITEMS, MAX_KEYS, MAX_STRING, check_data
from engine.errors import DataRejected
from engine.tasks import TaskQuery
from tests.conftest import ROOT
from tests.test_engine_failures import publish_script_model
from tests.test_form_rules import (  # noqa: F401 (fixtures)
    ACT,
    PLACEMENT,
    api,
    app,
    complete,
    start,
    started,
    task_of,
)

ACTS = ROOT / "bpmn" / "act_routing" / "act_routing.bpmn"


def nested(depth: int) -> dict[str, Any]:
    value: Any = 1
    for _ in range(depth - 1):
        value = {"a": value}
    return {"a": value}


def test_plain_json_within_the_limits_passes() -> None:
    check_data(
        {
            "text": "Ш" * MAX_STRING,
            "n": -(2**63),
            "x": 1.5,
            "yes": True,
            "none": None,
            "items": list(range(MAX_ITEMS)),
            "deep": nested(MAX_DEPTH - 1),
        }
    )
    check_data(nested(MAX_DEPTH))
    check_data({f"k{i}": i for i in range(MAX_KEYS)})


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (nested(MAX_DEPTH + 1), "a" + ".a" * (MAX_DEPTH - 1)),
        (nested(600), "a" + ".a" * (MAX_DEPTH - 1)),
        ({"big": {f"k{i}": i for i in range(MAX_KEYS + 1)}}, "big"),
        ({"list": list(range(MAX_ITEMS + 1))}, "list"),
        ({"text": "x" * (MAX_STRING + 1)}, "text"),
        ({"k" * 65: 1}, "k" * 64 + "…"),
        ({"1st": 1}, "1st"),
        ({"a-b": 1}, "a-b"),
        ({"имя": 1}, "имя"),
        ({"nan": float("nan")}, "nan"),
        ({"inf": float("inf")}, "inf"),
        ({"huge": 2**63}, "huge"),
        ({"nul": "a\x00b"}, "nul"),
        ({"lone": "\ud800"}, "lone"),
        ({"list": [1, {"x": "\udfff"}]}, "list[1].x"),
        ({"bytes": b"x"}, "bytes"),
        ({"set": {1}}, "set"),
        ({"tuple": (1,)}, "tuple"),
    ],
)
def test_what_is_not_plain_json_within_the_limits_is_refused_naming_where(data, path) -> None:
    with pytest.raises(DataRejected) as refused:
        check_data(data)
    assert refused.value.path == path


def test_the_total_size_is_limited() -> None:
    data = {f"t{i}": "x" * 19_000 for i in range(14)}  # 266,000 characters
    with pytest.raises(DataRejected, match="bytes"):
        check_data(data)
    check_data({f"t{i}": "x" * 19_000 for i in range(13)})  # 247,000: within 256 KiB
    assert MAX_BYTES == 256 * 1024


def test_only_an_object_is_data() -> None:
    for data in ([], "x", 1, None):
        with pytest.raises(DataRejected):
            check_data(data)


def test_start_data_beyond_the_limits_starts_nothing(engine, tmp_path) -> None:
    publish_script_model(engine, tmp_path, "total = a + 1")
    for data in ({"a": 1, "deep": nested(600)}, {"a": float("nan")}, {"len": "\x00"}):
        with pytest.raises(DataRejected):
            engine.runtime.start("script_step", data, actor="ivanov")
    assert engine.tasks.list(TaskQuery(process_id="script_step")) == []


def test_a_typename_in_data_round_trips_as_plain_data(engine, tmp_path) -> None:
    """SpiffWorkflow restores any dict with a "typename" key as a type: stored escaped, a case
    holding one still restores and steps once the cached workflow is gone."""
    publish_script_model(engine, tmp_path, "total = a + 1")
    scan = {"typename": "scan", "pages": [{"typename": "date", "value": "not a date"}]}
    iid = engine.runtime.start("script_step", {"a": 1, "doc": {"inner": scan}}, actor="ivanov")
    engine.cache.clear()
    assert engine.runtime.data(iid)["doc"] == {"inner": scan}
    [prepare] = engine.tasks.list(TaskQuery(instance_id=iid))
    engine.cache.clear()
    engine.tasks.complete(prepare.task_guid, {}, actor="ivanov")
    engine.cache.clear()
    data = engine.runtime.data(iid)
    assert data["doc"] == {"inner": scan} and data["total"] == 2
    [review] = engine.tasks.list(TaskQuery(instance_id=iid))
    assert review.task_name == "review"
    # the audit row holds the value as it was sent
    events = engine.history.events(iid)
    [started_event] = [e for e in events if e["event_type"] == "instance_started"]
    assert started_event["data_after"]["data"]["doc"] == {"inner": scan}
    assert engine.verify_history()["ok"] is True


def test_a_message_payload_with_a_typename_keeps_the_case_alive(domain_engine, clock) -> None:
    domain_engine.repository.publish(ACTS, now=clock.now())
    iid = domain_engine.runtime.start("act_routing", ACT, actor="tlg.prosecutor")

    def complete_open(name: str, data: dict[str, Any]) -> None:
        [task] = domain_engine.tasks.list(TaskQuery(instance_id=iid))
        assert task.task_name == name
        domain_engine.tasks.complete(task.task_guid, data, actor="tlg.head")

    complete_open("act_review", {"decision": "forward", "review_comment": "Да"})
    complete_open("act_dispatch", {"outgoing_number": "1", "dispatch_date": "2026-11-30"})
    with pytest.raises(DataRejected):  # nothing of a refused payload reaches the case
        domain_engine.runtime.deliver_message(
            "addressee_answer", nested(600), correlation={"case_id": iid}, actor="erdr"
        )
    delivered = domain_engine.runtime.deliver_message(
        "addressee_answer",
        {"result": "satisfied", "scan": {"typename": "scan"}},
        correlation={"case_id": iid},
        actor="erdr",
    )
    assert delivered == [iid]
    domain_engine.cache.clear()
    data = domain_engine.runtime.data(iid)
    assert data["answer"]["scan"] == {"typename": "scan"}
    assert data["act_result"] == "satisfied"


def test_the_api_refuses_text_the_stores_cannot_hold(api, domain_engine) -> None:  # noqa: F811
    case = started(api, "penalty_room_check", PLACEMENT)
    check = task_of(case, "placement_check")
    answer = complete(api, check, {"findings": "a\x00b"})
    assert answer.status_code == 422, answer.json
    assert answer.json["error"] == "invalid_data" and answer.json["path"] == "findings"
    # a lone surrogate is refused too (by the body's parser or by the engine): never a 5xx
    raw = '{"data": {"findings": "\\ud800"}}'
    answer = api(
        "POST",
        f"/tasks/{check}/complete",
        "tlg.prosecutor",
        data=raw,
        content_type="application/json",
    )
    assert answer.status_code in (400, 422), answer.json
    assert domain_engine.runtime.data(case["id"]).get("findings") is None
    named = start(api, "penalty_room_check", {**PLACEMENT, "grounds": "x\x00"})
    assert named.status_code == 422 and named.json["error"] == "invalid_data"
