"""Models drawn in other BPMN tools (Camunda 7/8, Signavio, bpmn.io): ISO timer literals work as
written, FEEL/JUEL and other dialects are refused naming file, line, element id and name with
the Python rewrite, parser messages come in words (engine/foreign.py, through the repository)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from engine.clock import FakeClock, using_clock
from engine.errors import ModelError
from engine.foreign import (
    check_dialect,
    clean_parser_error,
    element_name,
    executable_problem,
    normalize_timer_literals,
)
from engine.safety.xmlparse import MAX_MODEL_BYTES, parse_xml
from engine.tasks import TaskQuery
from tests.conftest import BENCH_MODEL, BPMN_DIR, FIXTURES

FOREIGN = FIXTURES / "foreign"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
#: a Python repr or a namespace URI in a message means the user saw engine data
RAW = re.compile(r"<[^<>]* at 0x|\{http|0x[0-9a-f]{6,}|Traceback|TypeError\(|Error\(")


def fixture(name: str) -> Path:
    return FOREIGN / name / f"{name}.bpmn"


def tree_of(xml: str) -> etree._ElementTree:
    return parse_xml(xml.encode(), "model.bpmn")


def assert_words(message: str) -> None:
    assert not RAW.search(message), message


def model(body: str, *, executable: str = 'isExecutable="true"') -> str:
    """A minimal BPMN file around `body` (flow nodes and flows of process `p`)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<bpmn:definitions xmlns:bpmn="{BPMN}" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" '
        'targetNamespace="http://bpmn.io/schema/bpmn">\n'
        f'<bpmn:process id="p" name="Probe" {executable}>\n{body}\n</bpmn:process>\n'
        "</bpmn:definitions>\n"
    )


def gateway(condition: str) -> str:
    """A gateway whose first way out carries `condition` (as written, XML-escaped)."""
    return model(
        '<bpmn:startEvent id="s" name="Start"/>\n'
        '<bpmn:exclusiveGateway id="g" name="Large fine?" default="f_no"/>\n'
        '<bpmn:endEvent id="e_yes" name="Review"/>\n'
        '<bpmn:endEvent id="e_no" name="Close"/>\n'
        '<bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="g"/>\n'
        '<bpmn:sequenceFlow id="f_yes" name="yes" sourceRef="g" targetRef="e_yes">\n'
        '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
        f"{condition}</bpmn:conditionExpression>\n"
        "</bpmn:sequenceFlow>\n"
        '<bpmn:sequenceFlow id="f_no" sourceRef="g" targetRef="e_no"/>'
    )


def timer(kind: str, text: str, *, where: str = "boundary") -> str:
    """A user task with a boundary (or an intermediate) timer of `kind` reading `text`."""
    definition = (
        f'<bpmn:timerEventDefinition id="td"><bpmn:{kind} xsi:type="bpmn:tFormalExpression">'
        f"{text}</bpmn:{kind}></bpmn:timerEventDefinition>"
    )
    if where == "intermediate":
        return model(
            '<bpmn:startEvent id="s"/>\n'
            f'<bpmn:intermediateCatchEvent id="wait" name="Wait">{definition}'
            "</bpmn:intermediateCatchEvent>\n"
            '<bpmn:endEvent id="e"/>\n'
            '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>\n'
            '<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="e"/>'
        )
    return model(
        '<bpmn:startEvent id="s"/>\n'
        '<bpmn:userTask id="answer" name="Answer"/>\n'
        f'<bpmn:boundaryEvent id="late" name="Too late" attachedToRef="answer">{definition}'
        "</bpmn:boundaryEvent>\n"
        '<bpmn:endEvent id="e"/>\n<bpmn:endEvent id="e_late"/>\n'
        '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="answer"/>\n'
        '<bpmn:sequenceFlow id="f2" sourceRef="answer" targetRef="e"/>\n'
        '<bpmn:sequenceFlow id="f3" sourceRef="late" targetRef="e_late"/>'
    )


def timer_text(tree: etree._ElementTree) -> str:
    [element] = [
        e
        for e in tree.iter()
        if isinstance(e.tag, str)
        and etree.QName(e.tag).localname in ("timeDuration", "timeDate", "timeCycle")
    ]
    return element.text or ""


def refusal(xml: str) -> ModelError:
    with pytest.raises(ModelError) as refused:
        check_dialect(tree_of(xml), "model.bpmn")
    assert_words(str(refused.value))
    return refused.value


# -- 1. ISO 8601 timer literals -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "written", "parser_reads"),
    [
        ("timeDuration", "P7D", '"P7D"'),
        ("timeDuration", "PT24H", '"PT24H"'),
        ("timeDuration", "P1Y2M", '"P1Y2M"'),
        ("timeDuration", " PT1H30M ", '"PT1H30M"'),
        ("timeCycle", "R3/PT24H", '"R3/PT24H"'),
        ("timeCycle", "R/P1D", '"R/P1D"'),
        (
            "timeCycle",
            "R6/2026-01-01T00:00:00+05:00/P1D",
            '"R6/2026-01-01T00:00:00+05:00/P1D"',
        ),
        ("timeDate", "2026-12-31T10:00:00+05:00", '"2026-12-31T10:00:00+05:00"'),
        ("timeDate", "2026-12-31T05:00:00Z", '"2026-12-31T05:00:00+00:00"'),
        # without an offset: Almaty, as every instant the engine reads (engine/calendar.py)
        ("timeDate", "2026-12-31", '"2026-12-31T00:00:00+05:00"'),
        ("timeDate", "2026-12-31T18:00:00", '"2026-12-31T18:00:00+05:00"'),
        ("timeDate", '"2026-12-31T18:00"', '"2026-12-31T18:00:00+05:00"'),
        ("timeCycle", "R/2026-01-01T00:00/P3M", '"R/2026-01-01T00:00:00+05:00/P3M"'),
    ],
)
def test_a_bare_iso_literal_is_a_quoted_string_for_the_parser(
    kind: str, written: str, parser_reads: str
) -> None:
    # a cycle on an intermediate event: an interrupting boundary timer fires once (next test)
    where = "intermediate" if kind == "timeCycle" else "boundary"
    tree = tree_of(timer(kind, written, where=where))
    normalized = normalize_timer_literals(tree)
    assert timer_text(normalized) == parser_reads
    assert timer_text(tree) == written  # the file keeps what was written


@pytest.mark.parametrize(
    ("written", "tag", "parser_reads"),
    [
        ("R3/PT24H", "timeDuration", '"PT24H"'),
        ('"R/PT1H"', "timeDuration", '"PT1H"'),
        ("R/2026-01-01T09:00/P1D", "timeDate", '"2026-01-01T09:00:00+05:00"'),
        ("R2/P1D/2026-01-03T00:00:00+05:00", "timeDate", '"2026-01-02T00:00:00+05:00"'),
    ],
)
def test_a_cycle_on_an_interrupting_timer_is_its_first_occurrence(
    written: str, tag: str, parser_reads: str
) -> None:
    normalized = normalize_timer_literals(tree_of(timer("timeCycle", written)))
    [element] = [
        e
        for e in normalized.iter()
        if isinstance(e.tag, str)
        and etree.QName(e.tag).localname in ("timeDuration", "timeDate", "timeCycle")
    ]
    assert (etree.QName(element.tag).localname, element.text) == (tag, parser_reads)


@pytest.mark.parametrize(
    "written",
    [
        'f"PT{hours}H"',
        "answer_due",
        '"PT1H"',
        "add_hours(placed_at, 24)",
        '"2026-12-31T10:00+05:00"',
    ],
)
def test_an_expression_or_a_quoted_text_is_left_as_written(written: str) -> None:
    tree = tree_of(timer("timeDuration", written.replace("<", "&lt;")))
    assert timer_text(normalize_timer_literals(tree)) == written


def test_our_own_models_pass_unchanged() -> None:
    """Nothing the engine's own procedures say is foreign: no refusal, no rewritten timer."""
    files = [
        *BPMN_DIR.glob("*/*.bpmn"),
        *BPMN_DIR.glob("*/*.dmn"),
        BENCH_MODEL,
        *(FIXTURES / "schedules").glob("*/*.bpmn"),
    ]
    assert len(files) > 8
    for path in files:
        tree = parse_xml(path.read_bytes(), path.name)
        check_dialect(tree, path.name)
        assert etree.tostring(normalize_timer_literals(tree)) == etree.tostring(tree), path


def test_a_p7d_boundary_timer_fires_seven_days_after_the_start(engine) -> None:  # type: ignore[no-untyped-def]
    path = fixture("camunda_timer_p7d")
    loaded, created = engine.repository.publish(path, actor="methodologist", now=engine.clock.now())
    assert created
    assert ">P7D</bpmn:timeDuration>" in loaded.files[loaded.main_file]  # stored as written
    iid = engine.runtime.start("foreign_timer_p7d", {}, actor="ivanov")
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    due = engine.clock.now() + timedelta(days=7)
    assert (task.title, task.role, task.due_at) == ("Answer the complaint", "prosecutor", due)

    assert engine.management.fire_due(due - timedelta(seconds=1)) == 0
    assert engine.runtime.get(iid).status == "running"
    assert engine.management.fire_due(due + timedelta(seconds=1)) == 1
    assert engine.runtime.get(iid).status == "completed"
    kinds = [e["event_type"] for e in engine.history.events(iid)]
    assert kinds[-3:] == ["timer_fired", "task_cancelled", "instance_completed"]


def test_a_date_without_offset_is_almaty_time_in_a_pool_with_lanes(engine) -> None:  # type: ignore[no-untyped-def]
    """Camunda Modeler's collaboration (participant, two lanes) publishes and starts; its
    deadline `2026-12-31T18:00:00` (no offset) falls at 18:00 in Almaty, 13:00 UTC."""
    path = fixture("camunda_collab_lanes")
    engine.repository.publish(path, actor="methodologist", now=engine.clock.now())
    iid = engine.runtime.start("foreign_collab_lanes", {}, actor="ivanov")
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    due = datetime(2026, 12, 31, 13, 0, tzinfo=UTC)
    assert (task.task_name, task.role, task.due_at) == ("Activity_check", "prosecutor", due)
    assert engine.management.fire_due(due - timedelta(seconds=1)) == 0
    assert engine.management.fire_due(due + timedelta(seconds=1)) == 1
    assert engine.runtime.get(iid).status == "completed"
    cancelled = engine.tasks.list(TaskQuery(instance_id=iid, state="cancelled"))
    assert [t.task_name for t in cancelled] == ["Activity_check"]


def cycle_model(tmp_path: Path, cycle: str = "R3/PT24H", *, interrupting: bool = False) -> Path:
    """The Camunda fixture with its reminder path ending in a user task a person sees."""
    text = fixture("camunda_cycle_reminder").read_text()
    text = text.replace("R3/PT24H", cycle)
    if interrupting:
        text = text.replace('cancelActivity="false"', 'cancelActivity="true"')
    text = text.replace(
        '<bpmn:endEvent id="Event_reminded" name="Reminded">\n'
        "      <bpmn:incoming>Flow_3</bpmn:incoming>\n"
        "    </bpmn:endEvent>",
        '<bpmn:userTask id="Event_reminded" name="Remind the inspector">'
        "<bpmn:incoming>Flow_3</bpmn:incoming><bpmn:outgoing>Flow_4</bpmn:outgoing>"
        '</bpmn:userTask><bpmn:endEvent id="Event_r_end"><bpmn:incoming>Flow_4</bpmn:incoming>'
        '</bpmn:endEvent><bpmn:sequenceFlow id="Flow_4" sourceRef="Event_reminded" '
        'targetRef="Event_r_end" />',
    ).replace(
        "<bpmn:flowNodeRef>Event_reminded</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>Event_reminded</bpmn:flowNodeRef>"
        "<bpmn:flowNodeRef>Event_r_end</bpmn:flowNodeRef>",
    )
    assert "Remind the inspector" in text
    path = tmp_path / "camunda_cycle_reminder.bpmn"
    path.write_text(text)
    return path


def timer_rows(engine, iid: int) -> list[tuple[str, datetime]]:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from engine.step import timer_table

    c = timer_table.c
    with engine.db.read() as conn:
        rows = conn.execute(select(c.name, c.fire_at).where(c.instance_id == iid)).all()
    return [
        (r.name, r.fire_at.replace(tzinfo=UTC) if r.fire_at.tzinfo is None else r.fire_at)
        for r in rows
    ]


def open_titles(engine, iid: int) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(t.title for t in engine.tasks.list(TaskQuery(instance_id=iid, state="ready")))


def test_a_repeating_reminder_fires_three_times_a_day_apart(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A non-interrupting `R3/PT24H` on a user task: a reminder task appears on each of three
    days, the timer row moves on a day each time, then no row is left and the task stays open."""
    engine.repository.publish(cycle_model(tmp_path), actor="methodologist", now=engine.clock.now())
    start = engine.clock.now()
    iid = engine.runtime.start("foreign_cycle_reminder", {}, actor="ivanov")
    day = timedelta(days=1)
    assert timer_rows(engine, iid) == [("Event_daily", start + day)]
    [report] = engine.tasks.list(TaskQuery(instance_id=iid))
    assert report.due_at == start + day  # the first reminder, the only timer it has
    second = timedelta(seconds=1)
    assert engine.management.fire_due(start + day - second) == 0
    for n in (1, 2, 3):
        assert engine.management.fire_due(start + n * day + second) == 1
        assert open_titles(engine, iid) == ["Remind the inspector"] * n + ["Write the report"]
        expected = [("Event_daily", start + (n + 1) * day)] if n < 3 else []
        assert timer_rows(engine, iid) == expected
    assert engine.management.fire_due(start + 10 * day) == 0
    assert open_titles(engine, iid) == ["Remind the inspector"] * 3 + ["Write the report"]
    assert engine.runtime.get(iid).status == "running"
    kinds = [e["event_type"] for e in engine.history.events(iid)]
    assert kinds.count("timer_fired") == 3
    # the report written: its reminders still open go with it (SpiffWorkflow keeps them under
    # the timer, which the task's end cancels), as they would have before the last firing
    [report] = [
        t
        for t in engine.tasks.list(TaskQuery(instance_id=iid, state="ready"))
        if t.title == "Write the report"
    ]
    engine.tasks.complete(report.task_guid, {}, actor="ivanov")
    assert open_titles(engine, iid) == []
    assert engine.runtime.get(iid).status == "completed"
    cancelled = engine.tasks.list(TaskQuery(instance_id=iid, state="cancelled"))
    assert [t.title for t in cancelled] == ["Remind the inspector"] * 3


def test_an_interrupting_cycle_fires_once_and_ends_the_task(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """BPMN: an interrupting event ends its activity, so `R3/PT24H` on it fires once, after a
    day (SpiffWorkflow alone would run the path three times and interrupt on the fourth day)."""
    path = cycle_model(tmp_path, interrupting=True)
    engine.repository.publish(path, actor="methodologist", now=engine.clock.now())
    start = engine.clock.now()
    iid = engine.runtime.start("foreign_cycle_reminder", {}, actor="ivanov")
    day = timedelta(days=1)
    assert timer_rows(engine, iid) == [("Event_daily", start + day)]
    assert engine.management.fire_due(start + day + timedelta(seconds=1)) == 1
    assert open_titles(engine, iid) == ["Remind the inspector"]
    cancelled = engine.tasks.list(TaskQuery(instance_id=iid, state="cancelled"))
    assert [t.title for t in cancelled] == ["Write the report"]
    assert timer_rows(engine, iid) == []
    assert engine.management.fire_due(start + 5 * day) == 0
    assert open_titles(engine, iid) == ["Remind the inspector"]


def test_an_unbounded_cycle_fires_each_day_until_the_task_ends(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`R/PT24H` is legal BPMN: one firing per due day (a late worker catches up one a round,
    never looping), and completing the task removes the timer row."""
    path = cycle_model(tmp_path, "R/PT24H")
    engine.repository.publish(path, actor="methodologist", now=engine.clock.now())
    start = engine.clock.now()
    iid = engine.runtime.start("foreign_cycle_reminder", {}, actor="ivanov")
    day = timedelta(days=1)
    for n in range(1, 6):
        assert engine.management.fire_due(start + n * day + timedelta(seconds=1)) == 1
        assert timer_rows(engine, iid) == [("Event_daily", start + (n + 1) * day)]
    assert open_titles(engine, iid).count("Remind the inspector") == 5
    # a worker ten days late: one step per round (SpiffWorkflow catches up at most a couple
    # of occurrences in it), the row moved on but still due: the next round goes on, no loop
    assert engine.management.fire_due(start + 16 * day) == 1
    [(_, moved)] = timer_rows(engine, iid)
    assert start + 7 * day <= moved <= start + 8 * day
    [report] = [
        t
        for t in engine.tasks.list(TaskQuery(instance_id=iid, state="ready"))
        if t.title == "Write the report"
    ]
    engine.tasks.complete(report.task_guid, {}, actor="ivanov")
    assert timer_rows(engine, iid) == []
    # SpiffWorkflow cancels the event with the reminders it raised: the case is over
    assert open_titles(engine, iid) == []
    assert engine.runtime.get(iid).status == "completed"
    assert engine.management.fire_due(start + 30 * day) == 0


def test_a_case_with_a_repeating_timer_moves_and_keeps_its_count(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Migration reads a cycle's next occurrence: a case reminded once moves to a version with
    the same cycle keeping its next reminder and its two left; a changed cycle is said."""
    from engine import case_migration

    engine.repository.publish(cycle_model(tmp_path), actor="methodologist", now=engine.clock.now())
    start = engine.clock.now()
    iid = engine.runtime.start("foreign_cycle_reminder", {}, actor="ivanov")
    day, second = timedelta(days=1), timedelta(seconds=1)
    assert engine.management.fire_due(start + day + second) == 1
    renamed = tmp_path / "v2"
    renamed.mkdir()
    v2_path = renamed / "camunda_cycle_reminder.bpmn"
    v2_path.write_text(cycle_model(tmp_path).read_text().replace("Write the report", "Report"))
    v2, created = engine.repository.publish(v2_path, actor="methodologist", now=start)
    assert created
    [row] = case_migration.plan(engine, [iid], v2.id)
    assert row["can_move"] is True, row["reasons"]
    [timer] = [d for d in row["deadlines"] if d["element"] == "Event_daily"]
    assert timer["before"] == timer["after"] == (start + 2 * day).isoformat()
    [moved] = case_migration.migrate(engine, [iid], v2.id, actor="methodologist", now=start)
    assert moved["moved"] is True
    assert timer_rows(engine, iid) == [("Event_daily", start + 2 * day)]
    for n in (2, 3):
        assert engine.management.fire_due(start + n * day + second) == 1
    assert timer_rows(engine, iid) == []
    assert open_titles(engine, iid) == ["Remind the inspector"] * 3 + ["Report"]

    other = tmp_path / "v3"
    other.mkdir()
    v3_path = other / "camunda_cycle_reminder.bpmn"
    v3_path.write_text(cycle_model(tmp_path, "R5/PT12H").read_text())
    second_case = engine.runtime.start("foreign_cycle_reminder", {}, actor="ivanov")  # on v2
    v3, _ = engine.repository.publish(v3_path, actor="methodologist", now=start)
    [refused] = case_migration.plan(engine, [second_case], v3.id)
    assert refused["can_move"] is False
    assert any("repetition" in r for r in refused["reasons"]), refused["reasons"]


def test_a_repeating_intermediate_timer_runs_its_path_three_times_then_ends(
    engine, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """`R3/PT24H` on an intermediate catch event: the flow after it runs on each of three days;
    after the third the event is done, so the case completes once those tasks are done."""
    path = tmp_path / "cycle_wait.bpmn"
    path.write_text(
        model(
            '<bpmn:startEvent id="s"/>\n<bpmn:intermediateCatchEvent id="wait" name="Wait">'
            '<bpmn:timerEventDefinition id="td"><bpmn:timeCycle>R3/PT24H</bpmn:timeCycle>'
            "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>\n"
            '<bpmn:userTask id="t" name="Check"/>\n<bpmn:endEvent id="e"/>\n'
            '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>\n'
            '<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="t"/>\n'
            '<bpmn:sequenceFlow id="f3" sourceRef="t" targetRef="e"/>'
        )
    )
    pid = "p"
    engine.repository.publish(path, actor="methodologist", now=engine.clock.now())
    start = engine.clock.now()
    iid = engine.runtime.start(pid, {}, actor="ivanov")
    day = timedelta(days=1)
    for n in (1, 2, 3):
        assert engine.management.fire_due(start + n * day + timedelta(seconds=1)) == 1
        assert open_titles(engine, iid) == ["Check"] * n
    assert timer_rows(engine, iid) == []
    for task in engine.tasks.list(TaskQuery(instance_id=iid, state="ready")):
        engine.tasks.complete(task.task_guid, {}, actor="ivanov")
    assert engine.runtime.get(iid).status == "completed"


@pytest.mark.parametrize(
    ("cycle", "words"),
    [
        ("R0/PT24H", "repeats zero times"),
        ("reminder_cycle", "an expression on an interrupting timer"),
    ],
)
def test_a_cycle_that_cannot_run_as_drawn_is_refused_in_words(
    engine, tmp_path, cycle: str, words: str
) -> None:  # type: ignore[no-untyped-def]
    path = cycle_model(tmp_path, cycle, interrupting=True)
    with pytest.raises(ModelError) as refused:
        engine.repository.publish(path, actor="methodologist", now=engine.clock.now())
    error = refused.value
    assert (error.element_id, error.element_name) == ("Event_daily", "Every day, three times")
    assert words in error.message
    assert_words(error.message)
    assert engine.repository.list() == []


def test_the_try_door_shows_a_cycles_first_due_instant(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from engine.trial import try_path

    tried = try_path(engine, cycle_model(tmp_path), now=engine.clock.now(), data={})
    assert tried["ok"] is True, tried
    [waiting] = tried["timers"]
    assert waiting["element"] == "Event_daily"
    due = (engine.clock.now() + timedelta(days=1)).astimezone(UTC)
    assert datetime.fromisoformat(waiting["due_at"]).astimezone(UTC) == due


def test_nadzor_definitions_try_prints_a_cycles_first_due_instant(
    domain_engine, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The CLI door: `nadzor definitions try` on the Camunda file says when the first of the
    three reminders falls due, in Almaty time, as the contract's JSON and as text."""
    import json

    from click.testing import CliRunner

    from web.cli import main

    monkeypatch.setenv("NADZOR_DATABASE_URL", database_url)
    monkeypatch.setenv("NADZOR_BPMN_DIR", str(BPMN_DIR))
    path = str(cycle_model(tmp_path))
    now = "2026-11-24T10:00:00+05:00"
    runner = CliRunner()
    as_json = runner.invoke(main, ["definitions", "try", path, "--now", now, "--json"])
    assert as_json.exit_code == 0, as_json.output
    out = json.loads(as_json.stdout)
    assert out["timers"] == [{"element": "Event_daily", "due_at": "2026-11-25T05:00:00+00:00"}]
    as_text = runner.invoke(main, ["definitions", "try", path, "--now", now])
    assert as_text.exit_code == 0, as_text.output
    assert "Event_daily: due 25.11.2026 10:00 Almaty" in as_text.stdout


def test_the_quoted_cycle_is_what_spiffworkflow_repeats() -> None:
    """The quoted form of `R3/PT24H` fires three times, a day apart, in SpiffWorkflow itself:
    the engine's timer row follows its `next` occurrence (engine/step.py `timer_instant`)."""
    tree = normalize_timer_literals(parse_xml(fixture("camunda_cycle_reminder").read_bytes(), "c"))
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_xml(tree, filename="c.bpmn")
    start = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
    clock = FakeClock(start)
    with using_clock(clock):
        workflow = BpmnWorkflow(parser.get_spec("foreign_cycle_reminder"))
        workflow.do_engine_steps()
        fired = []
        for hours in (23, 25, 47, 49, 71, 73, 97, 121):
            clock.set(start + timedelta(hours=hours))
            workflow.refresh_timers()
            workflow.do_engine_steps()
            reminded = [t for t in workflow.get_tasks() if t.task_spec.name == "Event_reminded"]
            fired.append(len(reminded))
    assert fired == [0, 1, 1, 2, 2, 3, 3, 3]


def test_timer_literals_reach_the_calendar_of_a_scheduled_start(domain_engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A timer start event's cycle written bare starts its quarter at Almaty midnight; a
    calendar is checked as written by engine/schedules.py, which asks for the start's offset
    (it assumes none) and for a start at all: both refused in words, nothing published."""
    source = FIXTURES / "schedules" / "quarterly_duty" / "quarterly_duty.bpmn"
    quoted = '"R/2026-01-01T00:00:00+05:00/P3M"'
    assert quoted in source.read_text()

    def publish(cycle: str) -> None:
        folder = tmp_path / cycle.replace("/", "_").replace(":", "") / "quarterly_duty"
        folder.mkdir(parents=True)
        (folder / "quarterly_duty.bpmn").write_text(source.read_text().replace(quoted, cycle))
        domain_engine.repository.publish(
            folder / "quarterly_duty.bpmn", actor="methodologist", now=domain_engine.clock.now()
        )

    for cycle, words in (
        ("R/2026-01-01T00:00/P3M", "give the start with its offset (+05:00 for Almaty)"),
        ("R3/PT24H", "R[n]/<start>/<period>"),
    ):
        with pytest.raises(ModelError) as refused:
            publish(cycle)
        said = str(refused.value)
        assert words in said and cycle in said
        assert refused.value.element_id == "quarter_ended" and refused.value.line == 22
        assert_words(said)
    assert domain_engine.repository.list() == []

    publish("R/2026-01-01T00:00:00+05:00/P3M")
    q4_end = datetime(2026, 12, 31, 19, 0, tzinfo=UTC)  # 1 January 2027, Almaty midnight
    assert domain_engine.management.fire_due_counts(q4_end - timedelta(seconds=1)) == {
        "fired": 0,
        "timers": 0,
        "scheduled_starts": 0,
    }
    assert domain_engine.management.fire_due_counts(q4_end)["scheduled_starts"] > 0


@pytest.mark.parametrize(
    ("kind", "written", "words"),
    [
        ("timeDate", "P7D", "move the value to a timeDuration"),
        ("timeDuration", "2026-12-31", "move the value to a timeDate"),
        ("timeDuration", "R3/PT24H", "move the value to a timeCycle"),
        ("timeDuration", "P7X", "is not a valid ISO 8601 value; write a duration"),
        ("timeDuration", '"PT24"', "is not a valid ISO 8601 value"),
        ("timeCycle", "0 0 9 * * MON-FRI", "is a cron expression"),
        ("timeDuration", "${dueIn}", "Write it as: dueIn"),
        ("timeDuration", '="P7D"', "Write it as: P7D"),
        ("timeDuration", '=duration("PT4H")', "Write it as: PT4H"),
        ("timeDate", "#{deadline}", "Write it as: deadline"),
    ],
)
def test_an_invalid_or_foreign_timer_is_refused_on_its_event(
    kind: str, written: str, words: str
) -> None:
    error = refusal(timer(kind, written))
    assert words in error.message
    assert (error.element_id, error.element_name) == ("late", "Too late")
    assert error.line == 6


# -- 2. FEEL and JUEL -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "dialect", "python"),
    [
        ("${amount &gt; 100}", "JUEL", "amount > 100"),
        ("${status == 'open'}", "JUEL", "status == 'open'"),
        ("${a &amp;&amp; b}", "JUEL", "a and b"),
        ("${a || !b}", "JUEL", "a or not b"),
        ("${not approved}", "JUEL", "not approved"),
        ("${!approved}", "JUEL", "not approved"),
        ("#{approved == true}", "JUEL", "approved == True"),
        ("${kind eq 'act' and days gt 3}", "JUEL", "kind == 'act' and days > 3"),
        ('= x = "y"', "FEEL", 'x == "y"'),
        ("= x &gt; 3 and y &lt; 2", "FEEL", "x > 3 and y < 2"),
        ("=answer = null", "FEEL", "answer == None"),
    ],
)
def test_a_foreign_condition_is_refused_with_its_python(
    written: str, dialect: str, python: str
) -> None:
    error = refusal(gateway(written))
    assert f"written in {dialect}" in error.message
    assert "conditions in this engine are Python expressions" in error.message
    assert error.message.endswith(f"Write it as: {python}")
    assert "the flow from 'Large fine?' to 'Review'" in error.message
    assert (error.filename, error.line, error.element_id, error.element_name) == (
        "model.bpmn",
        10,
        "f_yes",
        "yes",
    )


@pytest.mark.parametrize(
    "written",
    [
        "${execution.getVariable('amount') &gt; 100}",
        "${empty comment}",
        "=some(x in list satisfies x)",
    ],
)
def test_a_foreign_condition_beyond_a_comparison_is_refused_with_an_example(written: str) -> None:
    error = refusal(gateway(written))
    assert "Write it as" not in error.message
    assert "Rewrite it in Python, for example amount > 100" in error.message
    assert error.element_id == "f_yes"


@pytest.mark.parametrize("written", ['f"{kind} ${amount}" == label', "note == 'cost: ${x}'"])
def test_a_python_text_holding_a_dollar_brace_is_not_taken_for_juel(written: str) -> None:
    check_dialect(tree_of(gateway(written.replace("&", "&amp;"))), "model.bpmn")


def test_a_condition_in_another_language_or_a_script_not_in_python_is_refused() -> None:
    error = refusal(
        gateway("amount &gt; 100").replace('xsi:type="bpmn:tFormalExpression"', 'language="groovy"')
    )
    assert 'language="groovy"' in error.message and "remove the language attribute" in error.message
    script = model(
        '<bpmn:startEvent id="s"/>'
        '<bpmn:scriptTask id="count" name="Count" scriptFormat="groovy">'
        "<bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>"
        '<bpmn:endEvent id="e"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="count"/>'
        '<bpmn:sequenceFlow id="f2" sourceRef="count" targetRef="e"/>'
    )
    error = refusal(script)
    assert (error.element_id, error.element_name) == ("count", "Count")
    assert "Python only" in error.message


@pytest.mark.parametrize(
    ("cell", "python"),
    [
        ('"protest","submission"', '? in ("protest", "submission")'),
        ("[1..10]", "1 <= ? <= 10"),
        ("]0..5[", "0 < ? < 5"),
        ('not("closed")', '? != "closed"'),
        ('not("a","b")', '? not in ("a", "b")'),
    ],
)
def test_a_feel_test_in_a_decision_table_is_refused_with_its_python(cell: str, python: str) -> None:
    dmn = (FOREIGN / "camunda_dmn" / "answer_term.dmn").read_text()
    tree = parse_xml(dmn.replace('"protest","submission"', cell).encode(), "answer_term.dmn")
    with pytest.raises(ModelError) as refused:
        check_dialect(tree, "answer_term.dmn")
    error = refused.value
    assert error.message.endswith(f"Write it as: {python}")
    assert (error.line, error.element_id, error.element_name) == (
        13,
        "DecisionRule_protest",
        "Answer term, rule 1",
    )


# -- 3. element names -----------------------------------------------------------------------------


def test_element_name_is_the_drawn_name_or_its_events() -> None:
    tree = tree_of(timer("timeDuration", "P7D"))
    assert element_name(tree, "answer") == "Answer"
    assert element_name(tree, "td") == "Too late"  # the timer definition: its event's name
    assert element_name(tree, "f1") is None  # a nameless flow
    assert element_name(tree, "nothing") is None
    assert element_name(None, "answer") is None
    assert element_name(tree, None) is None


# -- 4. parser messages in words ------------------------------------------------------------------

#: models the parser refuses; each: (body, the words the user must read)
BROKEN = {
    "unknown task type": (
        '<bpmn:startEvent id="s"/><bpmn:fooTask id="t"/>',
        "the element fooTask is not allowed at this place",
    ),
    "duplicate ids": (
        '<bpmn:startEvent id="s"/><bpmn:task id="s"/>',
        "the id 's' of this task is used by another element",
    ),
    "missing targetRef": (
        '<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s"/>',
        "the sequenceFlow element has no targetRef attribute",
    ),
    "message not defined": (
        '<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="c" name="Answer in">'
        '<bpmn:messageEventDefinition id="md" messageRef="nowhere"/>'
        '</bpmn:intermediateCatchEvent><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="c"/>',
        "refers to a message, signal, error or escalation that is not defined",
    ),
    "data object missing": (
        '<bpmn:startEvent id="s"/><bpmn:task id="t" name="File it"><bpmn:dataOutputAssociation '
        'id="doa"><bpmn:targetRef>nodo</bpmn:targetRef></bpmn:dataOutputAssociation></bpmn:task>'
        '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>',
        "dataOutputAssociation of this element points to a data object that does not exist",
    ),
    "timer with no time": (
        '<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="c" name="Wait">'
        '<bpmn:timerEventDefinition id="td"/></bpmn:intermediateCatchEvent>'
        '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="c"/>',
        "this timer says neither when nor how long",
    ),
    "task with two ways out": (
        '<bpmn:startEvent id="s"/><bpmn:userTask id="u" name="Review"/><bpmn:endEvent id="e1"/>'
        '<bpmn:endEvent id="e2"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="u"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="u" targetRef="e1"/>'
        '<bpmn:sequenceFlow id="f2" sourceRef="u" targetRef="e2"/>',
        "this user task has more than one outgoing sequence flow",
    ),
    "no start event": (
        '<bpmn:task id="t"/><bpmn:endEvent id="e"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="t" targetRef="e"/>',
        "the process has no start event",
    ),
    "decision not found": (
        '<bpmn:startEvent id="s"/><bpmn:businessRuleTask id="br" name="Decide">'
        "<bpmn:extensionElements><spiffworkflow:calledDecisionId>term"
        "</spiffworkflow:calledDecisionId></bpmn:extensionElements></bpmn:businessRuleTask>"
        '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="br"/>',
        "calls the decision 'term', which is in none of the procedure's DMN files "
        "(decisions there: none)",
    ),
    "called process missing": (
        '<bpmn:startEvent id="s"/><bpmn:callActivity id="ca" name="Register" '
        'calledElement="register"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="ca"/>',
        "the called process 'register' is defined nowhere the engine looked: in the "
        "procedure's own files (processes there: p), in the published procedures, or in the "
        "BPMN directory",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_parsers_own_refusals_read_as_words(case: str) -> None:
    body, words = BROKEN[case]
    xml = model(body)
    tree = tree_of(xml)
    parser = SpiffBpmnParser(validator=VALIDATOR)
    with pytest.raises(ValidationException) as raised:
        parser.add_bpmn_xml(tree, filename="model.bpmn")
        parser.get_spec("p")
        parser.get_subprocess_specs("p")
    exc = raised.value
    line = exc.line_number if isinstance(exc.line_number, int) else None
    error = clean_parser_error(
        str(exc), "model.bpmn", line, getattr(exc, "id", None) or None, tree=tree
    )
    assert words in error.message, error.message
    assert_words(str(error))
    assert "tasks of type." not in str(error) and ". ." not in str(error)
    assert error.line or error.element_id  # it says where
    # without the tree (as the repository may call it) the words hold no repr either
    bare = clean_parser_error(str(exc), "model.bpmn", line, getattr(exc, "id", None) or None)
    assert_words(str(bare))


def test_a_lost_type_name_and_a_raw_element_are_said_in_words() -> None:
    xml = model(
        '<bpmn:startEvent id="s"/><bpmn:manualTask id="m" name="Sign"/><bpmn:endEvent id="e1"/>'
    )
    error = clean_parser_error(
        "Multiple outgoing flows are not supported for tasks of type. ",
        "model.bpmn",
        None,
        "m",
        tree=tree_of(xml),
    )
    assert error.message.startswith("this manual task has more than one outgoing sequence flow")
    assert (error.line, error.element_name) == (4, "Sign")
    raw = clean_parser_error(
        "Cannot resolve dataOutputAssociation <Element {http://www.omg.org/spec/BPMN/20100524/"
        "MODEL}targetRef at 0x7f2c86054740>. ",
        "model.bpmn",
        12,
        "t",
    )
    assert_words(str(raw))
    called = clean_parser_error(
        "called process 'register' is not defined in any model", "main.bpmn", 4, "ca"
    )
    assert "defined nowhere the engine looked" in called.message
    assert "published procedures" in called.message and "BPMN directory" in called.message


#: problems the repository finds in a draft (engine/repository.py check_files), whatever layer
#: finds them: every one in words, each with a line or an element
DRAFTS = {
    **{name: body for name, (body, _words) in BROKEN.items() if name != "called process missing"},
    "flow to nothing": '<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" '
    'targetRef="zzz"/>',
    "gateway without a way out": '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="g" '
    'name="Decide"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g"/>',
    "schema violation": '<bpmn:startEvent id="s"><bpmn:bogus/></bpmn:startEvent>',
}


@pytest.mark.parametrize("case", sorted(DRAFTS))
def test_every_problem_of_a_broken_draft_is_in_words(engine, case: str) -> None:  # type: ignore[no-untyped-def]
    problems = engine.repository.check_files({"broken.bpmn": model(DRAFTS[case])}, "broken.bpmn")
    assert problems, case
    for problem in problems:
        assert_words(problem["message"])
        assert problem["line"] or problem["element_id"], problem
    assert engine.repository.list() == []


# -- 5. models exported by other tools ------------------------------------------------------------

#: fixture -> None (publishes and starts) or (file, line, element id, element name, words)
FOREIGN_MODELS: dict[str, tuple[str, int, str, str | None, str] | None] = {
    "camunda_timer_p7d": None,
    "camunda_collab_lanes": None,
    "camunda_cycle_reminder": None,
    "camunda_juel_gateway": (
        "camunda_juel_gateway.bpmn",
        20,
        "Flow_large",
        "yes",
        "Write it as: amount > 100",
    ),
    "zeebe_feel": (
        "zeebe_feel.bpmn",
        20,
        "Flow_torture",
        "torture",
        'Write it as: kind == "torture"',
    ),
    "camunda_dmn": (
        "answer_term.dmn",
        13,
        "DecisionRule_protest",
        "Answer term, rule 1",
        'Write it as: ? in ("protest", "submission")',
    ),
    "camunda_script_js": (
        "camunda_script_js.bpmn",
        7,
        "Activity_days",
        "Count the days",
        "Rewrite the script in Python",
    ),
    "camunda_user_task_form": (
        "camunda_user_task_form.bpmn",
        7,
        "Activity_register",
        "Register the appeal",
        "put the task in the lane of the role that does it",
    ),
    "bpmnio_implicit_split": (
        "bpmnio_implicit_split.bpmn",
        7,
        "Activity_decide",
        "Write the decision",
        "Draw a gateway after it",
    ),
}


@pytest.mark.parametrize("name", sorted(FOREIGN_MODELS))
def test_a_model_from_another_tool_publishes_or_is_refused_in_words(engine, name: str) -> None:  # type: ignore[no-untyped-def]
    expected = FOREIGN_MODELS[name]
    path = fixture(name)
    if expected is None:
        loaded, created = engine.repository.publish(
            path, actor="methodologist", now=engine.clock.now()
        )
        assert created
        iid = engine.runtime.start(loaded.process_id, {}, actor="ivanov")
        assert engine.runtime.get(iid).status == "running"
        assert engine.tasks.list(TaskQuery(instance_id=iid))
        return
    filename, line, element_id, name_as_drawn, words = expected
    with pytest.raises(ModelError) as refused:
        engine.repository.publish(path, actor="methodologist", now=engine.clock.now())
    error = refused.value
    assert error.filename and error.filename.endswith(filename)
    assert (error.line, error.element_id, error.element_name) == (line, element_id, name_as_drawn)
    assert words in error.message
    assert_words(str(error))
    assert engine.repository.list() == []  # nothing published
    # the draft's check door says the same
    files = {p.name: p.read_text() for p in path.parent.iterdir()}
    problems = engine.repository.check_files(files, path.name)
    assert any(p["element_id"] == element_id and words in p["message"] for p in problems)


def test_the_camunda_decision_reference_is_refused_with_our_element() -> None:
    tree = parse_xml(fixture("camunda_dmn").read_bytes(), "camunda_dmn.bpmn")
    with pytest.raises(ModelError) as refused:
        check_dialect(tree, "camunda_dmn.bpmn")
    error = refused.value
    assert (error.line, error.element_id, error.element_name) == (
        7,
        "Activity_term",
        "Choose the answer term",
    )
    assert (
        "<spiffworkflow:calledDecisionId>answer_term</spiffworkflow:calledDecisionId>"
        in error.message
    )


@pytest.mark.parametrize(
    ("name", "line", "element_id", "said"),
    [
        ("bpmnio_not_executable", 3, "Process_1", 'is marked isExecutable="false"'),
        ("signavio_documentation", 3, "sid-3b2a9e41", "no isExecutable attribute"),
    ],
)
def test_a_model_not_marked_executable_is_refused_with_what_to_do(
    engine, name: str, line: int, element_id: str, said: str
) -> None:  # type: ignore[no-untyped-def]
    """bpmn.io and Camunda write isExecutable="false", Signavio leaves it out: a model drawn for
    documentation is not run by surprise; the methodologist is told how to mark it."""
    path = fixture(name)
    tree = parse_xml(path.read_bytes(), path.name)
    problem = executable_problem(tree, path.name)
    assert problem is not None
    assert (problem.line, problem.element_id) == (line, element_id)
    assert problem.element_name and said in problem.message
    assert 'isExecutable="true"' in problem.message and "tick" in problem.message
    with pytest.raises(ModelError) as refused:
        check_dialect(tree, path.name)
    assert refused.value.message == problem.message
    # through the repository: refused, nothing published
    with pytest.raises(ModelError, match="executable") as published:
        engine.repository.publish(path, actor="methodologist", now=engine.clock.now())
    assert_words(str(published.value))
    assert engine.repository.list() == []


def test_a_collaboration_with_an_external_pool_is_executable_enough() -> None:
    """A pool for the applicant (not executable) beside the office's executable process."""
    xml = model('<bpmn:startEvent id="s"/>').replace(
        "</bpmn:definitions>",
        '<bpmn:process id="applicant" name="Applicant" isExecutable="false"/></bpmn:definitions>',
    )
    assert executable_problem(tree_of(xml), "m.bpmn") is None


# -- 6. sizes and malformed XML -------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_with_the_limit_and_what_to_do(engine) -> None:  # type: ignore[no-untyped-def]
    big = model('<bpmn:startEvent id="s"/>' + "<!-- padding -->" * (MAX_MODEL_BYTES // 16 + 1))
    with pytest.raises(ModelError) as refused:
        parse_xml(big.encode(), "big.bpmn")
    said = str(refused.value)
    assert said.startswith("big.bpmn: the file is ")
    assert f"limited to {MAX_MODEL_BYTES:,} bytes" in said and "Split the procedure" in said
    problems = engine.repository.check_files({"big.bpmn": big}, "big.bpmn")
    assert problems and "limited to" in problems[0]["message"]
    assert engine.repository.list() == []


def test_malformed_xml_names_its_line_and_column_in_words(engine) -> None:  # type: ignore[no-untyped-def]
    broken = fixture("camunda_timer_p7d").read_text().replace("</bpmn:userTask>", "</bpmn:task>")
    with pytest.raises(ModelError) as refused:
        parse_xml(broken.encode(), "drawn.bpmn")
    error = refused.value
    assert error.line == 19
    assert error.message.startswith("malformed XML at line 19, column 17: ")
    assert "export it again from the modeler" in error.message
    assert_words(str(error))
    problems = engine.repository.check_files({"drawn.bpmn": broken}, "drawn.bpmn")
    assert problems[0]["line"] == 19 and "column 17" in problems[0]["message"]


def test_the_try_door_says_the_same_refusal(engine) -> None:  # type: ignore[no-untyped-def]
    """`nadzor definitions try` (engine/trial.py) reads a foreign model through the same
    checks: the JSON names the line and element, the error the rewrite."""
    from engine.trial import try_path

    result = try_path(engine, fixture("camunda_juel_gateway"), now=engine.clock.now(), data={})
    assert result["ok"] is False
    assert (result["line"], result["element_id"]) == (20, "Flow_large")
    assert "Write it as: amount > 100" in result["error"]
    assert_words(result["error"])
    tried = try_path(engine, fixture("camunda_timer_p7d"), now=engine.clock.now(), data={})
    assert tried["ok"] is True
    due = (engine.clock.now() + timedelta(days=7)).astimezone(UTC)
    [waiting] = tried["timers"]
    assert waiting["element"] == "Event_week_passed"
    assert datetime.fromisoformat(waiting["due_at"]).astimezone(UTC) == due


def test_a_camunda_form_is_refused_with_where_our_forms_live() -> None:
    text = fixture("camunda_user_task_form").read_text()
    tree = parse_xml(text.replace(' camunda:candidateGroups="clerks"', "").encode(), "f.bpmn")
    with pytest.raises(ModelError) as refused:
        check_dialect(tree, "f.bpmn")
    error = refused.value
    assert (error.line, error.element_id) == (7, "Activity_register")
    assert "camunda:formData" in error.message and "form editor" in error.message
