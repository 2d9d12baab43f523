"""Limits that hold for everything a model runs (issue 8, points 3 and 4).

Each test reproduces something that was seen: a bare `except:` that swallowed the time limit, a
condition `9**9**9 > 0` that froze the server, `'a'*4*10**9` that allocated 4 GB, a data key
`len` that broke every later step, and 30 script rounds in one step that held the database.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.errors import ScriptFailed, ScriptTimeout, UnsafeCode
from engine.safety.expressions import evaluate
from engine.safety.limits import MAX_LENGTH, StepBudgetExceeded
from engine.safety.script_engine import make_script_engine
from engine.safety.scripts import check_script, run_script
from engine.safety.xmlparse import parse_xml
from engine.tasks import TaskQuery
from tests.conftest import FIXTURES, ROOT


def finishes_within(seconds: float, fn: Callable[[], Any]) -> BaseException | Any:
    """Run `fn` in a daemon thread; fail (instead of hanging the suite) if it runs on."""
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(fn())
        except BaseException as exc:  # noqa: BLE001 - handed to the test to inspect
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still running after {seconds} s: the limit did not stop it"
    return outcome[0]


# -- the time limit cannot be caught ------------------------------------------------------------


def test_a_bare_except_cannot_swallow_the_time_limit() -> None:
    swallow = "while True:\n    try:\n        x = 1\n    except:\n        pass"
    result = finishes_within(5, lambda: run_script(swallow, {}, time_limit_s=0.2))
    assert isinstance(result, UnsafeCode) and "bare 'except:'" in str(result)


@pytest.mark.parametrize(
    "handler", ["except ZeroDivisionError:", "except (ValueError, ZeroDivisionError) as err:"]
)
def test_a_named_except_does_not_catch_the_time_limit_either(handler: str) -> None:
    script = f"while True:\n    try:\n        x = 1 / 0\n    {handler}\n        pass"
    result = finishes_within(5, lambda: run_script(script, {}, time_limit_s=0.2))
    assert isinstance(result, ScriptTimeout) and "CPU time" in str(result)


@pytest.mark.parametrize(
    "script",
    [
        "try:\n    x = 1\nexcept Exception:\n    pass",
        "try:\n    x = 1\nexcept BaseException:\n    pass",
        "for i in range(3):\n    try:\n        x = 1\n    finally:\n        continue",
        "with items as f:\n    pass",
    ],
)
def test_constructs_that_could_catch_the_abort_are_refused_when_compiled(script: str) -> None:
    with pytest.raises(UnsafeCode):
        check_script(script)


# -- sizes are checked before anything is allocated ---------------------------------------------

CHILD = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # before the fix: MemoryError,
resource.setrlimit(resource.RLIMIT_CPU, (15, 15))  # or killed, instead of hurting the host
from engine.safety.expressions import evaluate
from engine.safety.scripts import run_script
out = []
for kind, source in json.loads(sys.argv[1]):
    start = time.thread_time()
    try:
        if kind == "expression":
            evaluate(source, {"x": 1})
        else:
            run_script(source, {})
        error = None
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
    # the peak of this process's own address space (ru_maxrss would carry over the parent's
    # peak: Linux keeps it across fork and exec, and a long pytest run is hundreds of MB)
    with open("/proc/self/status") as status:
        peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    out.append({"source": source, "error": error, "cpu_s": time.thread_time() - start,
                "maxrss_mb": peak_kb / 1024})
print(json.dumps(out))
"""

BOMBS = [
    ("expression", "9**9**9 > 0"),
    ("expression", "'a'*4*10**9"),
    ("expression", "len([0]*10**9) > 0"),
    ("expression", "len(range(10**10)) > 0"),
    ("expression", 'f"{x:>999999999}"'),
    ("expression", "'%999999999d' % x"),
    ("expression", "'ab'.replace('', 'x' * 900000)"),
    ("expression", "'-'.join(['x' * 600000, 'y' * 600000])"),
    ("script", "s = 'ab'\nwhile True:\n    s = s + s"),
    ("script", "s = [1]\nfor i in range(64):\n    s *= 2"),
    ("script", "s = 'x'.ljust(10**9)"),
    ("script", "out = []\nwhile True:\n    out.append('x' * 900000)"),
    ("script", "x = 10\nfor i in range(40):\n    x = x * x"),
    ("script", "n = round(5, -10**9)"),
    ("script", "a = 'a' * 600000\nx = str.join('-', [a, a])"),
    ("script", "s = [1]\nfor i in range(30):\n    list.extend(s, s)"),
    ("script", "x = [0] * 900000\ny = [x for i in range(1000)]\nz = sorted(y)"),
    ("script", "b = '%999999999d'.encode() % (1,)"),
]


def test_huge_powers_repetitions_and_ranges_are_refused_before_they_allocate() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(BOMBS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)
    for result in results:
        assert result["error"] is not None, result
        assert result["error"].startswith("ScriptFailed") and "refused" in result["error"], result
        assert result["cpu_s"] < 0.5, result  # refused fast, not after computing
    # nothing near the gigabytes the operations asked for was ever allocated
    assert max(r["maxrss_mb"] for r in results) < 300, results


def test_memory_grown_by_many_small_values_is_stopped_by_the_net(monkeypatch) -> None:
    """Values under the size guards can still add up; the resident-memory net stops them."""
    import engine.safety.limits as limits

    monkeypatch.setattr(limits, "MAX_RSS_GROWTH_MB", 64)
    script = "out = []\nwhile True:\n    out.append([0] * 3000)"
    result = finishes_within(20, lambda: run_script(script, {}, time_limit_s=15))
    assert isinstance(result, ScriptFailed) and "memory grow by more than 64 MB" in str(result)


def test_the_refusal_names_the_limit_and_cannot_be_caught_by_the_script() -> None:
    script = (
        "try:\n    s = 'a' * 4 * 10**9\nexcept (ValueError, TypeError, OverflowError):\n    s = ''"
    )
    with pytest.raises(ScriptFailed, match=f"{MAX_LENGTH:,}"):
        run_script(script, {})


def test_lawful_arithmetic_and_formatting_still_work() -> None:
    data = {"hours": 24, "name": "Ким", "items": [1, 2, 3], "rate": 1.5}
    assert evaluate("2**10 * 3 + len(items)", data) == 3075
    assert evaluate('f"PT{hours}H {name!r:>8} {rate:.2f}"', data) == "PT24H    'Ким' 1.50"
    assert evaluate("'%s-%03d' % (name, hours)", data) == "Ким-024"
    assert evaluate("'-'.join([name, str(hours)])", data) == "Ким-24"
    run_script("total = sum(items) * 2\nlabel = name.ljust(5, '.')\nitems2 = items * 2", data)
    assert data["total"] == 12 and data["label"] == "Ким.." and len(data["items2"]) == 6


# -- data names cannot shadow the functions models call -----------------------------------------


def test_a_data_key_named_like_a_builtin_does_not_break_expressions_or_scripts() -> None:
    data = {"len": 0, "min": "x", "add_hours": 5, "items": [3, 1, 2]}
    assert evaluate("len(items) > 0 and min(items) == 1", data) is True
    from engine.calendar import DEADLINE_FUNCTIONS

    assert evaluate("add_hours('2026-01-01T00:00:00+00:00', 1)", data, functions=DEADLINE_FUNCTIONS)
    run_script("n = len(items) + min(items)", data, functions=DEADLINE_FUNCTIONS)
    assert data["n"] == 4
    # the data keeps its own values: the builtins were not written back over them
    assert data["len"] == 0 and data["min"] == "x" and data["add_hours"] == 5


def test_a_script_may_not_take_the_name_of_a_function() -> None:
    with pytest.raises(UnsafeCode, match="'len'"):
        run_script("len = 3", {})
    with pytest.raises(UnsafeCode, match="'add_working_days'"):
        check_script("add_working_days = 3", ["add_working_days"])


GATEWAY = (FIXTURES / "safety" / "gateway.bpmn.tmpl").read_text()


def test_a_case_whose_data_has_a_key_len_still_takes_its_gateway() -> None:
    parser = SpiffBpmnParser(validator=VALIDATOR)
    model = GATEWAY.replace("CONDITION", "len(items) &gt; 0")
    parser.add_bpmn_xml(parse_xml(model.encode(), "g.bpmn"), filename="g.bpmn")
    pid = parser.get_process_ids()[0]
    workflow = BpmnWorkflow(
        parser.get_spec(pid), parser.get_subprocess_specs(pid), script_engine=make_script_engine()
    )
    workflow.get_next_task(state=TaskState.READY).data.update({"len": 0, "items": [1]})
    workflow.do_engine_steps()
    assert workflow.is_completed()


def publish(engine, tmp_path: Path, name: str, text: str):  # type: ignore[no-untyped-def]
    folder = tmp_path / name
    folder.mkdir()
    (folder / f"{name}.bpmn").write_text(text)
    return engine.repository.publish(folder / f"{name}.bpmn", now=engine.clock.now())


SCRIPT_STEP = (FIXTURES / "engine" / "script_step.bpmn.tmpl").read_text()


def test_every_later_step_of_a_case_with_a_data_key_len_still_runs(engine, tmp_path) -> None:
    publish(engine, tmp_path, "script_step", SCRIPT_STEP.replace("__SCRIPT__", "n = len(items)"))
    iid = engine.runtime.start("script_step", {"len": 0, "items": [1, 2]}, actor="ivanov")
    [prepare] = engine.tasks.list(TaskQuery(instance_id=iid))
    engine.tasks.complete(prepare.task_guid, {}, actor="ivanov")
    assert [t.task_name for t in engine.tasks.list(TaskQuery(instance_id=iid))] == ["review"]
    assert engine.runtime.data(iid)["n"] == 2
    assert not engine.management.incidents(instance_id=iid)


# -- a step's total budget ----------------------------------------------------------------------

ROUNDS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d_rounds"
    targetNamespace="http://nadzor.kz/test">
  <bpmn:process id="rounds" name="Script rounds in one step" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="prepare" name="Prepare"><bpmn:incoming>f0</bpmn:incoming>
      <bpmn:outgoing>f1</bpmn:outgoing></bpmn:userTask>
    <bpmn:scriptTask id="init" name="Init"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing><bpmn:script>n = 0</bpmn:script></bpmn:scriptTask>
    <bpmn:scriptTask id="round" name="Round"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:incoming>f_again</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>work = 0
for i in range(100000):
    work = work + 1
n = n + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="more" default="f_done"><bpmn:incoming>f3</bpmn:incoming>
      <bpmn:outgoing>f_again</bpmn:outgoing><bpmn:outgoing>f_done</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:userTask id="report" name="Report"><bpmn:incoming>f_done</bpmn:incoming>
      <bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="prepare" />
    <bpmn:sequenceFlow id="f1" sourceRef="prepare" targetRef="init" />
    <bpmn:sequenceFlow id="f2" sourceRef="init" targetRef="round" />
    <bpmn:sequenceFlow id="f3" sourceRef="round" targetRef="more" />
    <bpmn:sequenceFlow id="f_again" sourceRef="more" targetRef="round">
      <bpmn:conditionExpression>n &lt; rounds</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_done" sourceRef="more" targetRef="report" />
    <bpmn:sequenceFlow id="f4" sourceRef="report" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_thirty_script_rounds_in_one_step_are_stopped_by_the_step_budget(
    make_engine, tmp_path
) -> None:
    """Each round is well under the script limit; together they pass the step's budget (here
    0.5 s of CPU, 5 s by default): the step is rolled back and recorded as an incident."""
    engine = make_engine(step_cpu_s=0.5)
    publish(engine, tmp_path, "rounds", ROUNDS)
    iid = engine.runtime.start("rounds", {"rounds": 30}, actor="ivanov")
    [prepare] = engine.tasks.list(TaskQuery(instance_id=iid))
    before = engine.runtime.get(iid).revision
    with pytest.raises(StepBudgetExceeded, match="budget of 0.5 s of CPU time"):
        engine.tasks.complete(prepare.task_guid, {}, actor="ivanov")
    # the case is as before: same revision, the same task open, no round recorded
    assert engine.runtime.get(iid).revision == before
    assert [t.task_name for t in engine.tasks.list(TaskQuery(instance_id=iid))] == ["prepare"]
    assert "n" not in engine.runtime.data(iid)
    [incident] = engine.management.incidents(instance_id=iid)
    assert incident["kind"] == "script" and "budget" in incident["message"]
    assert engine.verify_history()["ok"] is True


def test_a_few_rounds_fit_in_the_step_budget(make_engine, tmp_path) -> None:
    engine = make_engine(step_cpu_s=5.0)
    publish(engine, tmp_path, "rounds", ROUNDS)
    iid = engine.runtime.start("rounds", {"rounds": 2}, actor="ivanov")
    [prepare] = engine.tasks.list(TaskQuery(instance_id=iid))
    engine.tasks.complete(prepare.task_guid, {}, actor="ivanov")
    assert engine.runtime.data(iid)["n"] == 2
