"""The REST API fuzzed from its own OpenAPI document (schemathesis): no request, valid or not,
gets a 5xx; every answer has a documented status, content type, headers and shape; data the
document calls invalid is refused with a 4xx, and every valid queue query is answered.

Schemathesis runs as its command line would (examples, coverage of boundaries and wrong types,
other methods, then fuzzing; positive and negative data) against the app served on a local
port over a seeded demo database (the four procedures and their demo cases), so real case and
task ids exist and the fuzzer reuses those it reads in answers. Both backends. Bounded in
time (about 15 s per backend): a fixed number of examples per operation and phase,
derandomized with a fixed seed (the same requests on every run), no example database, no
shrinking. Other seeds can be tried by hand with `run_config(token, examples, seed)`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import schemathesis.engine
from schemathesis.engine import Status, events
from werkzeug.serving import make_server

from engine.clock import FakeClock
from engine.config import Settings
from engine.engine import Engine
from tests.conftest import BPMN_DIR
from web.app import create_app
from workflows.demo import seed
from workflows.runtime import build_engine
from workflows.users import UserDirectory

#: who sends the requests, and how many examples per operation and phase for each: a head of a
#: district office (may claim, delegate, complete, reassign) and, more briefly, a prosecutor of
#: another region (the head's cases are 404 to them) and the GP's auditor (reads all, writes 403)
IDENTITIES = (("tlg.head", 50), ("kar.prosecutor", 10), ("gp.auditor", 10))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "unsupported_method",
    "ignored_auth",
)


def run_config(token: str, examples: int, seed: int = 8) -> schemathesis.Config:
    """Examples, coverage (boundaries, missing and wrong-typed parameters, other methods) and
    fuzzing, positive and negative; the same requests on every run."""
    return schemathesis.Config.from_dict(
        {
            "headers": {"Authorization": f"Bearer {token}"},
            "seed": seed,
            "generation": {
                "max-examples": examples,
                "deterministic": True,
                "database": "none",
                "no-shrink": True,
                "mode": "all",
            },
            "phases": {"stateful": {"enabled": False}},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            # every valid queue query is answered with a queue (the limits are documented)
            "operations": [
                {
                    "include-name": name,
                    "checks": {
                        "positive_data_acceptance": {"enabled": True, "expected-statuses": ["200"]}
                    },
                }
                for name in ("GET /tasks", "GET /procedures")
            ],
        }
    )


@pytest.fixture
def fuzzed_engine(database_url: str) -> Iterator[Engine]:
    """A migrated database (each backend) with the demo organization, the procedures and their
    demo cases."""
    settings = Settings(database_url=database_url, secret_key="fuzz", bpmn_dir=Path(BPMN_DIR))
    engine = build_engine(settings, clock=FakeClock(datetime(2026, 11, 24, 5, 0, tzinfo=UTC)))
    seed(engine)
    yield engine
    engine.db.dispose()


def run(schema: Any) -> tuple[list[str], set[str]]:
    """Each failed check of the run (with a curl line to repeat it) and each run error; and the
    operations that were answered at least once."""
    found: list[str] = []
    answered: set[str] = set()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.NonFatalError):
            found.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            found.append(f"schemathesis failed: {event.exception!r}")
        elif isinstance(event, events.ScenarioFinished):
            if any(i.response is not None for i in event.recorder.interactions.values()):
                answered.add(event.label or "")
            if event.status != Status.FAILURE:
                continue
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        found.append(
                            f"{event.label} [{check.name}] {failure.title}: {failure.message}\n"
                            f"    {check.failure_info.code_sample}"
                        )
    return found, answered


@pytest.fixture
def served(fuzzed_engine: Engine) -> Iterator[str]:
    """The app on a local port (schemathesis's runner reaches WSGI apps only over HTTP)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app({"NADZOR_ENGINE": fuzzed_engine, "TESTING": True})
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_every_documented_request_is_answered_as_documented_without_a_5xx(
    fuzzed_engine: Engine, served: str
) -> None:
    failures: list[str] = []
    for login, examples in IDENTITIES:
        token = UserDirectory(fuzzed_engine.db).issue_token(login)
        schema = schemathesis.openapi.from_url(
            f"{served}/api/v1/openapi.json", config=run_config(token, examples)
        )
        documented = {result.ok().label for result in schema.get_all_operations()}
        found, answered = run(schema)
        failures += [f"as {login}: {failure}" for failure in found]
        assert answered == documented, f"as {login}, never answered: {documented - answered}"
    assert len(documented) >= 12, documented  # every route of web/api.py (test_api.py checks)
    assert not failures, "\n".join(failures)
