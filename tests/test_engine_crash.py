"""A process killed between the engine step and the commit leaves the case as it was."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from sqlalchemy import select

from engine.models import HumanTask, ProcessInstance
from engine.tasks import TaskQuery
from tests.conftest import FIXTURES, ROOT
from tests.test_engine_steps import start_check

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from engine.db import Database
    from engine.engine import Engine
    from engine.step import StepRunner

    url, guid = sys.argv[1], sys.argv[2]
    original_save = StepRunner._save

    def save_then_die(self, ctx, *args):
        original_save(self, ctx, *args)   # every row of the step is written, not committed
        print("saved", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    StepRunner._save = save_then_die
    engine = Engine(Database(url), Path(sys.argv[3]))
    data = {"placement_lawful": True, "conditions_lawful": True}
    engine.tasks.complete(guid, data, actor="crash")
    print("committed", flush=True)
    """
)


def test_kill_between_step_and_commit_keeps_the_state_before_the_step(engine, database_url) -> None:
    iid = start_check(engine)
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    before = engine.runtime.get(iid)
    events_before = len(engine.history.events(iid))
    engine.db.dispose()

    child = subprocess.run(
        [sys.executable, "-c", CHILD, database_url, task.task_guid, str(FIXTURES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr
    assert "saved" in child.stdout and "committed" not in child.stdout

    after = engine.runtime.get(iid)
    assert (after.revision, after.status) == (before.revision, "running")
    with engine.db.read() as conn:
        state = conn.execute(
            select(HumanTask.state).where(HumanTask.task_guid == task.task_guid)
        ).scalar()
        stored = conn.execute(
            select(ProcessInstance.state).where(ProcessInstance.id == iid)
        ).scalar()
    assert state == "ready" and '"placement_lawful"' not in stored
    assert len(engine.history.events(iid)) == events_before
    assert engine.verify_history()["ok"] is True
    # and the case goes on normally afterwards
    engine.tasks.complete(
        task.task_guid, {"placement_lawful": True, "conditions_lawful": True}, actor="ivanov"
    )
    assert engine.runtime.get(iid).status == "completed"
