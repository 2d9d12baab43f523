"""Every read of a case is recorded: who, when, what, from where, and what the answer was. The
case page, the task page, the diagram, the API's reads, and the refusals (403, and the 404 of
a case outside the reader's scope or of no case at all); auditors see the log of their scope,
`nadzor audit access --case ID --json` prints it; a read the log cannot record is not served."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.tasks import TaskQuery
from tests.conftest import BENCH_MODEL
from tests.test_audit_search import PROCESS, as_user, payload
from web.app import create_app
from web.cli import main
from web.i18n import LOCAL_ZONE
from workflows.access_log import AccessLog, AccessQuery
from workflows.users import UserDirectory


@pytest.fixture
def app(domain_engine, clock):  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(BENCH_MODEL, now=clock.now())
    return create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True})


@pytest.fixture
def case(domain_engine, clock) -> int:  # type: ignore[no-untyped-def]
    return domain_engine.runtime.start(
        PROCESS, payload("UK-161-2", "Сидоров Павел", clock.now()), actor="tlg.prosecutor"
    )


def entries(engine, case_id: int | None = None) -> list[dict]:  # type: ignore[no-untyped-def]
    """The log, oldest first."""
    rows = AccessLog(engine.db).entries(AccessQuery(instance_id=case_id, limit=1000))
    return rows[::-1]


def seen(rows: list[dict]) -> list[tuple]:
    return [(r["login"], r["what"], r["instance_id"], r["status"]) for r in rows]


def test_page_task_and_diagram_views_are_recorded_with_who_when_and_where(
    app, domain_engine, case, clock
) -> None:
    [task] = domain_engine.tasks.list(TaskQuery(instance_id=case))
    reader = as_user(app, "tlg.prosecutor")
    assert reader.get(f"/cases/{case}").status_code == 200
    assert reader.get(f"/tasks/{task.task_guid}").status_code == 200
    assert reader.get(f"/cases/{case}/diagram.bpmn").status_code == 200
    reader.get("/queue/office")  # a queue lists tasks; it is no read of a case
    rows = entries(domain_engine)
    assert seen(rows) == [
        ("tlg.prosecutor", "case", case, 200),
        ("tlg.prosecutor", "task", case, 200),  # the task's case, found by the log itself
        ("tlg.prosecutor", "diagram", case, 200),
    ]
    first = rows[0]
    assert first["at"] == clock.now() and first["ip"] == "127.0.0.1"
    assert first["office_code"] == "ALM-TLG" and first["case_office"] == "ALM-TLG"
    assert first["path"] == f"/cases/{case}" and first["method"] == "GET"
    assert rows[1]["task_guid"] == task.task_guid


def test_api_reads_of_a_case_are_recorded(app, domain_engine, case) -> None:
    [task] = domain_engine.tasks.list(TaskQuery(instance_id=case))
    token = UserDirectory(domain_engine.db).issue_token("tlg.head")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for path in (f"/instances/{case}", f"/instances/{case}/history", f"/tasks/{task.task_guid}"):
        assert client.get(f"/api/v1{path}", headers=headers).status_code == 200
    client.get("/api/v1/tasks", headers=headers)  # a list is no read of one case
    rows = entries(domain_engine)
    assert seen(rows) == [("tlg.head", "api", case, 200)] * 3
    assert [r["path"] for r in rows] == [
        f"/api/v1/instances/{case}",
        f"/api/v1/instances/{case}/history",
        f"/api/v1/tasks/{task.task_guid}",
    ]


def test_refusals_are_recorded_and_name_the_case_for_its_office(app, domain_engine, case) -> None:
    [task] = domain_engine.tasks.list(TaskQuery(instance_id=case))
    stranger = as_user(app, "kar.prosecutor")  # Karaganda: Talgar's case is outside its scope
    assert stranger.get(f"/cases/{case}").status_code == 404
    assert stranger.get(f"/tasks/{task.task_guid}").status_code == 404
    assert stranger.get("/cases/987654").status_code == 404  # no such case
    no_reader = as_user(app, "gp.methodologist")  # no reading role: 403
    assert no_reader.get(f"/cases/{case}").status_code == 403
    token = UserDirectory(domain_engine.db).issue_token("kar.prosecutor")
    api = app.test_client().get(
        f"/api/v1/instances/{case}", headers={"Authorization": f"Bearer {token}"}
    )
    assert api.status_code == 404
    rows = entries(domain_engine)
    assert seen(rows) == [
        ("kar.prosecutor", "case", case, 404),
        ("kar.prosecutor", "task", case, 404),
        ("kar.prosecutor", "case", 987654, 404),
        ("gp.methodologist", "case", case, 403),
        ("kar.prosecutor", "api", case, 404),
    ]
    # the probe is told to the case's own office; a number with no case has no office
    assert [r["case_office"] for r in rows] == ["ALM-TLG", "ALM-TLG", None, "ALM-TLG", "ALM-TLG"]
    assert {r["office_code"] for r in rows} == {"KRG-KAR", "GP"}


def test_auditors_see_the_log_of_their_scope(app, domain_engine, case, clock) -> None:
    karaganda = domain_engine.runtime.start(
        PROCESS, payload("UK-159-11", "Ахметов Серик", clock.now()), actor="kar.prosecutor"
    )
    as_user(app, "tlg.prosecutor").get(f"/cases/{case}")
    as_user(app, "kar.prosecutor").get(f"/cases/{karaganda}")
    as_user(app, "kar.prosecutor").get(f"/cases/{case}")  # refused
    district = as_user(app, "tlg.auditor")
    page = district.get("/audit/access").get_data(as_text=True)
    assert "tlg.prosecutor" in page and "kar.prosecutor" in page  # the probe of Talgar's case
    assert f"№ {karaganda}" not in page  # another region's reads are not the district's
    assert "отказано" in page and "127.0.0.1" in page
    assert "Карагандинской" in page or "Караганды" in page  # the prober's office by name
    only_refusals = district.get("/audit/access?refused=1").get_data(as_text=True)
    assert only_refusals.count("отказано") == 1 and "tlg.prosecutor" not in only_refusals
    by_login = district.get("/audit/access?login=tlg.prosecutor").get_data(as_text=True)
    assert "kar.prosecutor" not in by_login
    gp = as_user(app, "gp.auditor")
    assert f"№ {karaganda}" in gp.get("/audit/access").get_data(as_text=True)
    tomorrow = (clock.now() + timedelta(days=1)).astimezone(LOCAL_ZONE).strftime("%d.%m.%Y")
    later = gp.get(f"/audit/access?from={tomorrow}").get_data(as_text=True)
    assert "tlg.prosecutor" not in later
    # one case's log, which the trace links to; reading it is recorded too
    own = district.get(f"/audit/cases/{case}/access").get_data(as_text=True)
    assert f"№ {case}" in own and "kar.prosecutor" in own
    assert district.get(f"/audit/cases/{karaganda}/access").status_code == 404
    assert seen(entries(domain_engine, case))[-1] == ("tlg.auditor", "access_log", case, 200)
    assert as_user(app, "tlg.prosecutor").get(f"/audit/cases/{case}/access").status_code == 403


def test_the_cli_lists_a_cases_reads_as_json(
    app, domain_engine, case, database_url, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    as_user(app, "tlg.prosecutor").get(f"/cases/{case}")
    as_user(app, "kar.prosecutor").get(f"/cases/{case}")
    monkeypatch.setenv("NADZOR_DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["audit", "access", "--case", str(case), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["login"], r["what"], r["status"], r["refused"]) for r in rows] == [
        ("kar.prosecutor", "case", 404, True),
        ("tlg.prosecutor", "case", 200, False),
    ]
    assert {"at", "login", "what", "ip", "office", "status", "path", "case"} <= set(rows[0])
    assert rows[0]["at"].endswith("+00:00") and rows[0]["case"] == case
    words = CliRunner().invoke(main, ["audit", "access", "--case", str(case)])
    assert "REFUSED 404" in words.output and "kar.prosecutor" in words.output


def test_an_export_from_the_shell_is_an_access_too(
    app, domain_engine, case, database_url, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NADZOR_DATABASE_URL", database_url)
    monkeypatch.delenv("NADZOR_AUDIT_KEY", raising=False)
    exported = CliRunner().invoke(main, ["audit", "export", str(case), "--json"])
    assert exported.exit_code == 0, exported.output
    result = CliRunner().invoke(main, ["audit", "access", "--case", str(case), "--json"])
    rows = json.loads(result.output)
    assert [(r["what"], r["status"], r["path"]) for r in rows] == [
        ("export", 200, f"nadzor audit export {case}")
    ]
    assert rows[0]["login"].startswith("cli:")


def test_a_read_the_log_cannot_record_is_not_served(
    app, domain_engine, case, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = as_user(app, "tlg.prosecutor")

    def broken(read):  # type: ignore[no-untyped-def]
        raise RuntimeError("the log's table is gone")

    monkeypatch.setattr("web.access.insert_statement", broken)
    response = reader.get(f"/cases/{case}")
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert "Сидоров" not in body and "журнал доступа" in body
    token = UserDirectory(domain_engine.db).issue_token("tlg.prosecutor")
    api = app.test_client().get(
        f"/api/v1/instances/{case}", headers={"Authorization": f"Bearer {token}"}
    )
    assert api.status_code == 503 and "Сидоров" not in api.get_data(as_text=True)
    assert reader.get("/queue/office").status_code == 200  # pages that read no case are served
