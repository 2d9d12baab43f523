"""`nadzor bench engine`: one workload three ways, so the cost of durability is a number.

Workload (the penalty-room check): start a case, complete the check with data; every second case
is unlawful and gets the act task, completed too. A step is a start or a completion.
1. in memory - SpiffWorkflow alone, workflows kept as objects (the library's limit);
2. round trip - SpiffWorkflow alone, stock serializer restore before and save after each step;
3. persisted - our engine on a fresh SQLite file: every step committed with its state, task
   and timer projections and hash-chained audit events.
Then the step cost with 50,000 stored cases vs 1,000, to show it does not grow with the table.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import insert, select

from .calendar import DEADLINE_FUNCTIONS
from .clock import SystemClock
from .db import Database
from .engine import Engine
from .migrate import upgrade
from .models import HumanTask, ProcessInstance, Timer
from .tasks import TaskQuery

MODEL = Path(__file__).resolve().parent / "benchdata" / "penalty_check.bpmn"
PROCESS_ID = "bench_penalty_check"


def _start_data(i: int) -> dict[str, Any]:
    placed = datetime.now(UTC) + timedelta(days=30)  # timers never fire during the run
    return {
        "placed_at": placed.isoformat(),
        "remote": i % 3 == 0,
        "convict_name": f"Convict {i}",
        "office_code": f"D{i % 7:02d}",
    }


def _check_data(i: int) -> dict[str, Any]:
    lawful = i % 2 == 0
    return {"placement_lawful": lawful, "conditions_lawful": True, "findings": f"case {i} checked"}


ACT_DATA = {"act_number": "A-1", "act_date": "2026-11-25"}


def _complete_ready(workflow: BpmnWorkflow, data: dict[str, Any]) -> bool:
    ready = workflow.get_tasks(state=TaskState.READY, manual=True)
    if not ready:
        return False
    task = ready[0]
    task.set_data(**data)
    task.run()
    workflow.do_engine_steps()
    return True


def _library_engine() -> PythonScriptEngine:
    return PythonScriptEngine(environment=TaskDataEnvironment(dict(DEADLINE_FUNCTIONS)))


def bench_inmemory(n: int, spec: Any, subs: Any) -> float:
    script_engine = _library_engine()
    steps = 0
    t0 = time.perf_counter()
    workflows = []
    for i in range(n):
        wf = BpmnWorkflow(spec, subs, script_engine=script_engine)
        wf.get_next_task(state=TaskState.READY).data.update(_start_data(i))
        wf.do_engine_steps()
        workflows.append(wf)
        steps += 1
    for i, wf in enumerate(workflows):
        steps += _complete_ready(wf, _check_data(i))
    for wf in workflows:
        steps += _complete_ready(wf, ACT_DATA)
    return steps / (time.perf_counter() - t0)


def bench_roundtrip(n: int, spec: Any, subs: Any) -> float:
    script_engine = _library_engine()
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    steps = 0
    t0 = time.perf_counter()
    stored: list[str] = []
    for i in range(n):
        wf = BpmnWorkflow(spec, subs, script_engine=script_engine)
        wf.get_next_task(state=TaskState.READY).data.update(_start_data(i))
        wf.do_engine_steps()
        stored.append(serializer.serialize_json(wf))
        steps += 1

    def round_trip(i: int, data: dict[str, Any]) -> int:
        wf = serializer.deserialize_json(stored[i])
        wf.script_engine = script_engine
        if not _complete_ready(wf, data):
            return 0
        stored[i] = serializer.serialize_json(wf)
        return 1

    for i in range(n):
        steps += round_trip(i, _check_data(i))
    for i in range(n):
        steps += round_trip(i, ACT_DATA)
    return steps / (time.perf_counter() - t0)


def _timed(durations: list[float], fn: Callable[[], Any]) -> Any:
    t = time.perf_counter()
    result = fn()
    durations.append(time.perf_counter() - t)
    return result


def _persisted_run(engine: Engine, n: int, offset: int = 0) -> tuple[float, list[float]]:
    durations: list[float] = []
    t0 = time.perf_counter()
    ids = [
        _timed(
            durations, lambda i=i: engine.runtime.start(PROCESS_ID, _start_data(i), actor="bench")
        )
        for i in range(offset, offset + n)
    ]
    index = {iid: k for k, iid in enumerate(ids)}
    for phase in (0, 1):
        # the client reads its queue once per round, as a prosecutor's screen would
        queue = engine.tasks.list(TaskQuery(process_id=PROCESS_ID, limit=10 * n))
        for task in queue:
            k = index.get(task.instance_id)
            if k is None:
                continue
            data = _check_data(offset + k) if phase == 0 else ACT_DATA
            _timed(
                durations,
                lambda t=task, d=data: engine.tasks.complete(t.task_guid, d, actor="bench"),
            )
    return len(durations) / (time.perf_counter() - t0), durations


def percentile(values: list[float], q: float) -> float:
    """The value at quantile `q` (nearest rank): what every benchmark here reports as p95."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _fresh_engine(folder: Path) -> Engine:
    url = f"sqlite:///{folder / 'bench.db'}"
    upgrade(url)
    engine = Engine(Database(url), folder, clock=SystemClock(), cache_size=2000)
    engine.repository.publish(MODEL, actor="bench", now=engine.clock.now())
    return engine


def _add_ballast(engine: Engine, count: int) -> None:
    """Store `count` more cases (copies of a real one) so tables are as big as in production."""
    inst, task, timer = ProcessInstance.__table__, HumanTask.__table__, Timer.__table__
    with engine.db.read() as conn:
        template = conn.execute(select(inst).limit(1)).mappings().one()
    now = engine.clock.now()
    batch = 5000
    for start in range(0, count, batch):
        size = min(batch, count - start)
        with engine.db.write() as conn:
            rows = []
            for _ in range(size):
                row = dict(template)
                row.pop("id")
                rows.append(row)
            first_id = conn.execute(insert(inst).returning(inst.c.id), rows).scalars().all()
            conn.execute(
                insert(task),
                [
                    {
                        "instance_id": iid,
                        "task_guid": str(uuid.uuid4()),
                        "process_id": PROCESS_ID,
                        "task_name": "check",
                        "title": "Check the placement",
                        "lane": "prosecutor",
                        "role": "prosecutor",
                        "office_code": f"D{iid % 7:02d}",
                        "created_at": now,
                        "due_at": now + timedelta(hours=24 + iid % 48),
                        "state": "ready",
                    }
                    for iid in first_id
                ],
            )
            conn.execute(
                insert(timer),
                [
                    {
                        "instance_id": iid,
                        "task_guid": str(uuid.uuid4()),
                        "kind": "timer",
                        "name": "check_deadline",
                        "fire_at": now + timedelta(days=30),
                        "attempts": 0,
                    }
                    for iid in first_id
                ],
            )


def run_engine_bench(n: int = 1000, *, scale_instances: int = 50000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nadzor-bench-") as tmp:
        folder = Path(tmp)
        engine = _fresh_engine(folder)
        definition = engine.repository.get(engine.repository.latest_id(PROCESS_ID))
        spec, subs = definition.spec, definition.subprocess_specs

        inmemory = bench_inmemory(n, spec, subs)
        roundtrip = bench_roundtrip(n, spec, subs)
        persisted, durations = _persisted_run(engine, n)
        with engine.db.read() as conn:
            sizes = [len(s) for s in conn.execute(select(ProcessInstance.state)).scalars()]
        result: dict[str, Any] = {
            "instances": n,
            "steps": len(durations),
            "inmemory_steps_per_s": round(inmemory, 1),
            "roundtrip_steps_per_s": round(roundtrip, 1),
            "persisted_steps_per_s": round(persisted, 1),
            "ratio_vs_inmemory": round(persisted / inmemory, 3),
            "ratio_vs_roundtrip": round(persisted / roundtrip, 3),
            "p50_step_ms": round(statistics.median(durations) * 1000, 3),
            "p95_step_ms": round(percentile(durations, 0.95) * 1000, 3),
            "state_bytes": int(statistics.median(sizes)),
        }
        engine.db.dispose()

        if scale_instances:
            result.update(_scale_check(folder, n, scale_instances))
        return result


def _scale_check(folder: Path, n: int, stored: int) -> dict[str, Any]:
    """p50 of the same steps with ~n stored cases vs with `stored` stored cases."""
    figures = {}
    for label, ballast in (("small", 0), ("large", max(stored - n, 0))):
        sub = folder / label
        sub.mkdir()
        engine = _fresh_engine(sub)
        _persisted_run(engine, n)  # the first n cases, as in the main run
        if ballast:
            _add_ballast(engine, ballast)
        _, durations = _persisted_run(engine, n, offset=n)
        figures[label] = statistics.median(durations) * 1000
        engine.db.dispose()
    return {
        "scale_instances_small": 2 * n,
        "scale_instances_large": stored + n,
        "p50_step_ms_small": round(figures["small"], 3),
        "p50_step_ms_large": round(figures["large"], 3),
        "scale_p50_ratio": round(figures["large"] / figures["small"], 3),
    }
