"""A host made busy on purpose: processes stopped and resumed with SIGSTOP/SIGCONT (issue 8).

A stopped process spends no CPU time, so limits counted in the CPU time of the running thread
must not fail a lawful step however long it is paused; and `seed-demo` killed half-way must
finish on a re-run with every demo case exactly once.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from engine.clock import SystemClock
from tests.conftest import ROOT
from workflows.demo import demo_cases

NADZOR = [sys.executable, "-m", "web.cli"]  # `nadzor`, from the tree under test


def _stopped(pid: int) -> bool:
    """True when the process is stopped (state T in /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] in ("T", "t")


def _wait_until_stopped(proc: subprocess.Popen[str], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not _stopped(proc.pid):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the child never stopped itself"
        time.sleep(0.01)


# The child stops itself in the middle of the script (as a host descheduling it would), for
# longer than the script's whole limit; after SIGCONT the script still has lawful work to do.
PAUSED_SCRIPT = """
import os, signal, sys
from pathlib import Path
from engine.db import Database
from engine.engine import Engine

engine = Engine(Database("sqlite:///" + sys.argv[1]), Path("bpmn"))  # preloads, as at start
env = engine.script_engine.environment
functions = {**env.functions, "pause": lambda: os.kill(os.getpid(), signal.SIGSTOP)}
data = {"received_at": "2026-12-29T10:00:00+05:00"}
env.execute(
    "pause()\\n"
    "appeal_due = add_working_days(received_at, 15)\\n"
    "n = 0\\n"
    "for i in range(20000):\\n"
    "    n = n + 1\\n",
    data,
    functions,
)
print(data["appeal_due"], data["n"])
"""


def test_a_script_paused_longer_than_its_limit_still_succeeds(tmp_path: Path) -> None:
    """With a wall-clock limit the paused script failed ('ran past its time limit'); counted
    in CPU time, the pause costs nothing. The first working-day deadline of a fresh process
    is computed right after the pause."""
    proc = subprocess.Popen(
        [sys.executable, "-c", PAUSED_SCRIPT, str(tmp_path / "x.db")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_stopped(proc)
        time.sleep(1.5)  # a real pause of the process: 1.5 s > the script's 1 s limit
        os.kill(proc.pid, signal.SIGCONT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-2000:]
    # 15 working days from 29 Dec 2026, skipping the New Year and Christmas holidays
    due, n = out.split()
    assert due.startswith("2027-01-2") and n == "20000"


def _env(db: Path) -> dict[str, str]:
    return {**os.environ, "NADZOR_DATABASE_URL": f"sqlite:///{db}", "NADZOR_SECRET_KEY": "test"}


def _demo_count() -> int:
    """How many demo cases `seed-demo` starts (the list only reads the engine's clock)."""
    return len(demo_cases(SimpleNamespace(clock=SystemClock())))  # type: ignore[arg-type]


def _demo_cases(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT business_key, process_id FROM process_instance ORDER BY business_key"
        ).fetchall()


# A run of `nadzor seed-demo` that dies (SIGKILL, no clean-up) right after the fifth demo case
# started, before the first task of that case was completed.
KILLED_SEED = """
import os, signal, sys
from engine.tasks import TaskService
from web.cli import main

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

TaskService.complete = die
sys.argv = ["nadzor", "seed-demo"]
main()
"""


def test_seed_demo_on_a_busy_host_and_after_a_kill_half_way(tmp_path: Path) -> None:
    db = tmp_path / "nadzor.db"
    env = _env(db)
    subprocess.run([*NADZOR, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)

    killed = subprocess.run(
        [sys.executable, "-c", KILLED_SEED], cwd=ROOT, env=env, capture_output=True, timeout=60
    )
    assert killed.returncode == -signal.SIGKILL
    half = _demo_cases(db)
    total = _demo_count()
    assert 0 < len(half) < total

    # the re-run, on a host that keeps pausing it
    proc = subprocess.Popen(
        [*NADZOR, "seed-demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        pauses = 0
        while proc.poll() is None and pauses < 6:
            time.sleep(0.15)
            os.kill(proc.pid, signal.SIGSTOP)
            time.sleep(0.4)
            os.kill(proc.pid, signal.SIGCONT)
            pauses += 1
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert f"{total - len(half)} demo cases started" in out

    cases = _demo_cases(db)
    keys = [key for key, _ in cases]
    assert len(cases) == total and len(set(keys)) == total  # every demo case, each exactly once
    assert cases[: len(half)] == half
    with sqlite3.connect(db) as conn:  # the case whose first task the killed run left open
        completed = conn.execute(
            "SELECT count(*) FROM human_task t JOIN process_instance i ON i.id = t.instance_id"
            " WHERE i.business_key = 'demo-05' AND t.state = 'completed'"
        ).fetchone()[0]
    assert completed == 1

    again = subprocess.run(
        [*NADZOR, "seed-demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0 and "0 demo cases started" in again.stdout
    assert _demo_cases(db) == cases
