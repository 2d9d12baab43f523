"""Trying a model before publishing it (engine/trial.py, `nadzor definitions try`).

A methodologist changes the 24 h of the penalty-room check and wants to see, before
publishing, where the check goes and when it falls due. The trial runs the real engine on a
chosen clock with sample start data and keeps nothing: every table has as many rows after it
as before, whatever the trial ended with.
"""

from __future__ import annotations

import json
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, inspect, select, table

from engine.config import Settings
from engine.db import Database
from engine.engine import Engine
from engine.errors import Busy
from engine.trial import try_files, try_path
from tests.conftest import BPMN_DIR
from web.cli import main
from workflows.runtime import build_engine

MODEL = BPMN_DIR / "penalty_room_check" / "penalty_room_check.bpmn"
NOW = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # 10:00 in Almaty
PLACED = "2026-11-24T09:30:00+05:00"  # 04:30 UTC
START = {
    "institution": "UK-161-2",  # a colony of the demo directory, supervised by ALM-TLG
    "convict_name": "Петров Иван Сергеевич",
    "placed_at": PLACED,
    "resolution_number": "145",
    "resolution_date": "2026-11-24",
    "grounds": "Отказ от выхода на работу (ст. 128 УИК РК)",
    "duration_days": 10,
}
CHECK_TITLE = "Проверить законность водворения и условия содержания"
SUCCESS_KEYS = {"ok", "process_id", "status", "tasks", "timers", "path"}


def row_counts(engine: Engine) -> dict[str, int]:
    """Every table of the database and its number of rows."""
    with engine.db.read() as conn:
        names = inspect(conn).get_table_names()
        return {n: conn.execute(select(func.count()).select_from(table(n))).scalar() for n in names}


def model_copy(tmp_path: Path, edit: tuple[str, str] | None = None) -> Path:
    """The penalty-room check's folder copied where a methodologist edits it."""
    folder = tmp_path / "penalty_room_check"
    shutil.copytree(MODEL.parent, folder)
    main = folder / MODEL.name
    if edit is not None:
        text = main.read_text(encoding="utf-8")
        assert text.count(edit[0]) == 1, edit[0]
        main.write_text(text.replace(*edit), encoding="utf-8")
    return main


def test_the_check_goes_to_the_supervising_office_and_falls_due_24_hours_after_placement(
    domain_engine: Engine,
) -> None:
    result = try_path(domain_engine, MODEL, now=NOW, data=START)
    assert set(result) == SUCCESS_KEYS
    assert result["ok"] is True and result["process_id"] == "penalty_room_check"
    assert result["status"] == "waiting"
    # the lane resolves through the real directory: UK-161-2 is supervised by Taldykorgan
    assert result["tasks"] == [
        {
            "name": "placement_check",
            "title": CHECK_TITLE,
            "lane": "supervising office",
            "office_code": "ALM-TLG",
        }
    ]
    # ¶11.6, ¶13.9: 24 hours from the placement, not from the trial's "now"
    assert result["timers"] == [
        {"element": "check_deadline", "due_at": "2026-11-25T04:30:00+00:00"}
    ]
    elements = [step["element"] for step in result["path"]]
    assert elements[0] == "start" and elements[-1] == "set_deadline"
    assert {"parameters", "status_gw"} <= set(elements)
    assert result["path"][0]["name"] == "Лицо водворено в ШИЗО / ПКТ / карцер"


def test_an_edited_copy_moves_the_due_instant(domain_engine: Engine, tmp_path: Path) -> None:
    edited = model_copy(tmp_path, ("check_hours_near = 24\n", "check_hours_near = 12\n"))
    result = try_path(domain_engine, edited, now=NOW, data=START)
    assert result["ok"] is True
    assert result["timers"] == [
        {"element": "check_deadline", "due_at": "2026-11-24T16:30:00+00:00"}
    ]
    # a remote colony (Karaganda region) takes the other parameter, 48 h, untouched by the edit
    far = try_path(domain_engine, edited, now=NOW, data={**START, "institution": "UK-159-21"})
    assert far["timers"] == [{"element": "check_deadline", "due_at": "2026-11-26T04:30:00+00:00"}]
    assert far["tasks"][0]["office_code"] == "KRG-ZHZ"


def test_a_draft_held_in_memory_is_tried_from_its_files(domain_engine: Engine) -> None:
    files = {
        f"penalty_room_check/{p.name}": p.read_text(encoding="utf-8")
        for p in sorted(MODEL.parent.iterdir())
        if p.is_file()
    }
    main = f"penalty_room_check/{MODEL.name}"
    files[main] = files[main].replace("check_hours_near = 24\n", "check_hours_near = 36\n")
    result = try_files(domain_engine, files, main, now=NOW, data=START)
    assert result["ok"] is True, result
    assert result["timers"][0]["due_at"] == "2026-11-25T16:30:00+00:00"
    assert result["tasks"][0]["office_code"] == "ALM-TLG"


def test_the_published_version_itself_can_be_tried(domain_engine: Engine) -> None:
    """A draft opened from v1 and not yet changed has v1's content: trying it works and
    publishes nothing."""
    loaded, _ = domain_engine.repository.publish(MODEL, note="v1", now=NOW)
    before = row_counts(domain_engine)
    result = try_files(domain_engine, loaded.files, loaded.main_file, now=NOW, data=START)
    assert result["ok"] is True and result["timers"][0]["due_at"] == "2026-11-25T04:30:00+00:00"
    assert row_counts(domain_engine) == before
    assert [v["version"] for v in domain_engine.repository.versions("penalty_room_check")] == [1]


def test_a_broken_model_is_refused_with_its_file_line_and_element(
    domain_engine: Engine, tmp_path: Path
) -> None:
    broken = model_copy(tmp_path, ('targetRef="set_deadline"', 'targetRef="nowhere"'))
    result = try_path(domain_engine, broken, now=NOW, data=START)
    assert result["ok"] is False
    assert "nowhere" in result["error"]
    assert isinstance(result["line"], int) and result["line"] > 1
    assert result["element_id"] and result["file"].endswith("penalty_room_check.bpmn")
    line = broken.read_text(encoding="utf-8").splitlines()[result["line"] - 1]
    assert result["element_id"] in line  # the line really is the element's


def test_start_data_the_form_refuses_names_the_fields(domain_engine: Engine) -> None:
    data = {**START, "placed_at": "вчера", "extra": 1}
    del data["convict_name"]
    result = try_path(domain_engine, MODEL, now=NOW, data=data)
    assert result["ok"] is False
    assert {"placed_at", "convict_name", "extra"} <= set(result["fields"])
    assert "placed_at" in result["error"] and "convict_name" in result["error"]
    assert result["element_id"] == "start" and isinstance(result["line"], int)
    assert result["problems"]["convict_name"]["code"] == "required"  # for pages to translate
    not_an_object = try_path(domain_engine, MODEL, now=NOW, data=["x"])  # type: ignore[arg-type]
    assert not_an_object["ok"] is False and "object" in not_an_object["error"]


def test_a_script_failing_during_the_trial_names_its_element(
    domain_engine: Engine, tmp_path: Path
) -> None:
    broken = model_copy(
        tmp_path,
        (
            "check_due = add_hours(placed_at, check_hours)",
            "check_due = add_hours(placed_at, check_hours) + 1",
        ),
    )
    result = try_path(domain_engine, broken, now=NOW, data=START)
    assert result["ok"] is False
    assert result["element_id"] == "set_deadline"
    assert result["element_name"] == "Рассчитать срок проверки (24 / 48 ч)"
    line = broken.read_text(encoding="utf-8").splitlines()[result["line"] - 1]
    assert 'id="set_deadline"' in line
    assert "Traceback" not in result["error"] and "<" not in result["error"]


def test_a_service_task_is_not_called_and_the_trial_stops_there(domain_engine: Engine) -> None:
    # quarterly_report starts on its calendar and then takes the figures from a service
    model = BPMN_DIR / "quarterly_report" / "quarterly_report.bpmn"
    result = try_path(domain_engine, model, now=NOW, data={})
    assert result["ok"] is True, result
    assert result["status"] == "stopped_at_service"
    assert result["path"][-1]["element"] == "figures"
    assert result["tasks"] == [] and result["timers"] == []


def test_nothing_of_any_trial_persists(domain_engine: Engine, tmp_path: Path) -> None:
    before = row_counts(domain_engine)
    cached = len(domain_engine.cache._items)
    broken_script = model_copy(
        tmp_path,
        (
            "check_due = add_hours(placed_at, check_hours)",
            "check_due = add_hours(placed_at, check_hours) + 1",
        ),
    )
    outcomes = [
        try_path(domain_engine, MODEL, now=NOW, data=START),
        try_path(domain_engine, MODEL, now=NOW, data={"institution": "UK-161-2"}),
        try_path(domain_engine, broken_script, now=NOW, data=START),
        try_path(
            domain_engine, BPMN_DIR / "quarterly_report" / "quarterly_report.bpmn", now=NOW, data={}
        ),
    ]
    assert [o["ok"] for o in outcomes] == [True, False, False, True]
    # no case, task, timer, audit event, attachment, incident, definition or register row
    assert row_counts(domain_engine) == before
    assert len(domain_engine.cache._items) == cached  # nor a workflow in the shared cache
    # and the engine still starts and keeps real cases as before (the trial's case id may be
    # given again: no stale workflow of it is left anywhere)
    domain_engine.repository.publish(MODEL, now=NOW)
    case = domain_engine.runtime.start("penalty_room_check", START, actor="integration")
    assert domain_engine.runtime.get(case).status == "running"
    assert domain_engine.runtime.data(case)["supervising_office"] == "ALM-TLG"


class _PublishMeanwhile:
    """The engine's organization, publishing from another connection (another thread, as
    another server would) while the trial's step assigns its first task."""

    def __init__(self, inner: Any, publish: Any) -> None:
        self.inner, self.publish, self.outcome = inner, publish, None

    def assign(self, lane: Any, data: Any, process_id: str) -> Any:
        def run() -> None:
            try:
                self.outcome = self.publish()
            except Exception as exc:  # noqa: BLE001 - the outcome is what the test reads
                self.outcome = exc

        worker = threading.Thread(target=run)
        worker.start()
        worker.join(timeout=30)
        return self.inner.assign(lane, data, process_id)

    def case_office(self, data: Any, process_id: str) -> Any:
        return self.inner.case_office(data, process_id)

    def case_facts(self, data: Any, process_id: str) -> Any:
        return self.inner.case_facts(data, process_id)


def test_a_publish_during_a_trial_is_not_held_up_by_it_on_postgresql(
    domain_engine: Engine, database_url: str
) -> None:
    """PostgreSQL: the trial's uncommitted definition row must not make a publisher wait for
    its key (it would time out as Busy). SQLite has one writer: the publisher waits for the
    trial's transaction, bounded, and gets Busy — nothing is half-written either way."""
    other = build_engine(
        Settings(database_url=database_url, secret_key="test", bpmn_dir=BPMN_DIR),
        db=Database(database_url, lock_wait=0.5),
    )
    meanwhile = _PublishMeanwhile(
        domain_engine.organization, lambda: other.repository.publish(MODEL, note="v1", now=NOW)
    )
    domain_engine.organization = meanwhile  # type: ignore[assignment]
    try:
        result = try_path(domain_engine, MODEL, now=NOW, data=START)
    finally:
        domain_engine.organization = meanwhile.inner
        other.db.dispose()
    assert result["ok"] is True and result["tasks"][0]["office_code"] == "ALM-TLG"
    versions = [
        r["version"]
        for r in domain_engine.repository.list()
        if r["process_id"] == "penalty_room_check"
    ]
    if domain_engine.db.is_sqlite:
        assert isinstance(meanwhile.outcome, Busy) and versions == []
    else:
        loaded, created = meanwhile.outcome  # type: ignore[misc]
        assert created is True and loaded.version == 1 and versions == [1]


# -- the command line ---------------------------------------------------------------------------


@pytest.fixture
def cli(domain_engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """`nadzor` over the test database, whose organization is the demo one."""
    monkeypatch.setenv("NADZOR_DATABASE_URL", database_url)
    monkeypatch.setenv("NADZOR_BPMN_DIR", str(BPMN_DIR))
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> Any:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    return invoke


def test_cli_prints_the_trial_with_exactly_the_contract_keys(
    cli, domain_engine: Engine, tmp_path: Path
) -> None:
    before = row_counts(domain_engine)
    data_file = tmp_path / "start.json"
    data_file.write_text(json.dumps(START, ensure_ascii=False), encoding="utf-8")
    for data in (json.dumps(START, ensure_ascii=False), f"@{data_file}"):
        out = json.loads(
            cli(
                "definitions",
                "try",
                str(MODEL),
                "--now",
                "2026-11-24T10:00:00+05:00",
                "--data",
                data,
                "--json",
            ).stdout
        )
        assert set(out) == SUCCESS_KEYS
        assert [set(t) for t in out["tasks"]] == [{"name", "title", "lane", "office_code"}]
        assert [set(t) for t in out["timers"]] == [{"element", "due_at"}]
        assert all(set(p) == {"element", "name"} for p in out["path"])
        assert out["timers"][0]["due_at"] == "2026-11-25T04:30:00+00:00"
        assert out["tasks"][0]["office_code"] == "ALM-TLG"
    listing = cli(
        "definitions",
        "try",
        str(MODEL),
        "--now",
        "2026-11-24T10:00:00+05:00",
        "--data",
        f"@{data_file}",
    ).stdout
    assert CHECK_TITLE in listing and "ALM-TLG" in listing
    assert "25.11.2026 09:30" in listing  # the due instant in Almaty's time
    assert row_counts(domain_engine) == before


def test_cli_exits_1_with_where_it_failed(cli, tmp_path: Path) -> None:
    refused = json.loads(
        cli(
            "definitions",
            "try",
            str(MODEL),
            "--data",
            '{"institution": "UK-161-2"}',
            "--json",
            code=1,
        ).stdout
    )
    assert refused["ok"] is False
    assert {"error", "line", "element_id"} <= set(refused)
    assert "convict_name" in refused["error"]
    broken = model_copy(tmp_path, ('targetRef="set_deadline"', 'targetRef="nowhere"'))
    out = json.loads(cli("definitions", "try", str(broken), "--json", code=1).stdout)
    assert out["ok"] is False and out["line"] and out["element_id"]
    said = cli("definitions", "try", str(MODEL), "--data", "{oops", code=2).output
    assert "--data" in said and "not JSON" in said
    naive = cli("definitions", "try", str(MODEL), "--now", "2026-11-24T10:00", code=2).output
    assert "offset" in naive
