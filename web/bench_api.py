"""`nadzor bench api`: the production server on a fresh SQLite database, one HTTP client.

The client keeps one connection alive, starts N cases of a three-user-task procedure and
completes every task through the API, timing each request end to end.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from engine.config import Settings
from workflows.demo import seed_organization
from workflows.migrate import upgrade
from workflows.runtime import build_engine
from workflows.users import UserDirectory

MODEL = Path(__file__).resolve().parent.parent / "engine" / "benchdata" / "api" / "three_tasks.bpmn"
LOGIN = "tlg.prosecutor"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(folder: Path) -> tuple[dict[str, str], str]:
    url = f"sqlite:///{folder / 'bench.db'}"
    upgrade(url)
    engine = build_engine(Settings(url, "bench", folder))
    seed_organization(engine)
    engine.repository.publish(MODEL, actor="bench", now=engine.clock.now())
    token = UserDirectory(engine.db).issue_token(LOGIN)
    engine.db.dispose()
    env = {
        **os.environ,
        "NADZOR_DATABASE_URL": url,
        "NADZOR_BPMN_DIR": str(folder),
        "NADZOR_SECRET_KEY": "bench",
    }
    return env, token


def _wait_for(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


class Client:
    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any, float]:
        t = time.perf_counter()
        self.conn.request("POST", f"/api/v1{path}", json.dumps(body), self.headers)
        response = self.conn.getresponse()
        payload = json.loads(response.read())
        return response.status, payload, time.perf_counter() - t


def run_api_bench(n: int = 200) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nadzor-api-bench-") as tmp:
        env, token = _prepare(Path(tmp))
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "serve", "--port", str(port), "--no-worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for(port)
            client = Client(port, token)
            starts: list[float] = []
            completes: list[float] = []
            t0 = time.perf_counter()
            for i in range(n):
                status, instance, took = client.post(
                    "/procedures/bench_three_tasks/instances",
                    {"institution": "UK-161-2", "case_no": f"B-{i}"},
                )
                if status != 201:
                    raise RuntimeError(f"start failed: {status} {instance}")
                starts.append(took)
                while instance["tasks"]:
                    task = instance["tasks"][0]
                    status, instance, took = client.post(
                        f"/tasks/{task['id']}/complete", {"data": {f"{task['name']}_done": True}}
                    )
                    if status != 200:
                        raise RuntimeError(f"complete failed: {status} {instance}")
                    completes.append(took)
            elapsed = time.perf_counter() - t0
        finally:
            server.terminate()
            server.wait(timeout=30)
    ordered = sorted(completes)
    return {
        "cases": n,
        "completions": len(completes),
        "complete_p50_ms": round(statistics.median(completes) * 1000, 3),
        "complete_p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 3),
        "start_p50_ms": round(statistics.median(starts) * 1000, 3),
        "cases_per_s": round(n / elapsed, 1),
    }
