"""Scheduled starts: a procedure starts on its calendar, one case per office, exactly once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.clock import FakeClock
from engine.config import Settings, load_settings
from engine.engine import Engine
from engine.errors import InvalidOperation, ModelError
from engine.models import ScheduledStart, Timer
from engine.schedules import parse_cycle
from engine.tasks import TaskQuery
from engine.worker import Worker
from tests.conftest import FIXTURES
from web.cli import main
from workflows.demo import seed_organization
from workflows.runtime import build_engine

MODEL = FIXTURES / "schedules" / "quarterly_duty" / "quarterly_duty.bpmn"
PROCESS = "quarterly_duty"
#: 2027-01-01 00:00 in Almaty: the first day after the fourth quarter of 2026
Q4_END = datetime(2026, 12, 31, 19, 0, tzinfo=UTC)
PUBLISHED = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)


def _engine(database_url: str, clock: FakeClock) -> Engine:
    settings = Settings(database_url=database_url, secret_key="test", bpmn_dir=FIXTURES)
    return build_engine(settings, clock=clock)


@pytest.fixture
def engines(database_url: str) -> Iterator:
    """Engines as separate worker processes build them, over one database."""
    made: list[Engine] = []

    def make(clock: FakeClock | None = None) -> Engine:
        engine = _engine(database_url, clock or FakeClock(PUBLISHED))
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.db.dispose()


@pytest.fixture
def published(engines) -> Engine:  # type: ignore[no-untyped-def]
    engine = engines()
    seed_organization(engine)
    engine.repository.publish(MODEL, now=PUBLISHED)
    return engine


def district_offices(engine: Engine) -> list[str]:
    directory = engine.extensions["directory"]  # type: ignore[attr-defined]
    return sorted(o.code for o in directory.offices() if o.level == "district")


def started_cases(engine: Engine) -> list[dict]:
    c = ScheduledStart.__table__.c
    with engine.db.read() as conn:
        rows = conn.execute(
            select(c.office_code, c.occurrence, c.instance_id).order_by(c.office_code)
        ).all()
    return [dict(r._mapping) for r in rows]


def instance_count(engine: Engine) -> int:
    from engine.models import ProcessInstance

    with engine.db.read() as conn:
        return conn.execute(select(func.count()).select_from(ProcessInstance.__table__)).scalar()


# -- the calendar -----------------------------------------------------------------------------


def test_a_quarter_starts_at_almaty_midnight_in_calendar_months() -> None:
    cycle = parse_cycle('"R/2026-01-01T00:00:00+05:00/P3M"')
    assert cycle.next_after(PUBLISHED) == Q4_END  # 1 January 2027, 00:00 in Almaty
    assert cycle.next_after(Q4_END) == datetime(2027, 3, 31, 19, 0, tzinfo=UTC)  # 1 April
    assert cycle.latest(datetime(2027, 7, 15, tzinfo=UTC)) == datetime(2027, 6, 30, 19, tzinfo=UTC)
    assert cycle.latest(Q4_END) == Q4_END  # due at the instant itself
    monthly = parse_cycle("R/2026-01-31T00:00:00+05:00/P1M")  # month ends: no drift
    assert [monthly.at(k).date().isoformat() for k in range(4)] == [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
        "2026-04-30",
    ]
    limited = parse_cycle("R2/2026-01-01T00:00:00+05:00/P6M")
    assert limited.next_after(datetime(2026, 8, 1, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    "cycle, words",
    [
        ('"R/2026-13-01T00:00:00+05:00/P3M"', "is not an ISO date and time"),
        ('"R/2026-01-01T00:00:00/P3M"', "give the start with its offset"),
        ('"R/2026-01-01T00:00:00+05:00/P3Q"', "is not an ISO 8601 duration"),
        ('"every quarter"', "is not an ISO 8601 repeating interval"),
    ],
)
def test_a_bad_cycle_is_refused_at_publishing_with_words(
    published, tmp_path: Path, cycle: str, words: str
) -> None:
    folder = tmp_path / "quarterly_duty"
    folder.mkdir()
    text = MODEL.read_text().replace('"R/2026-01-01T00:00:00+05:00/P3M"', cycle)
    (folder / "quarterly_duty.bpmn").write_text(text)
    with pytest.raises(ModelError) as refused:
        published.repository.publish(folder / "quarterly_duty.bpmn", now=PUBLISHED)
    said = str(refused.value)
    assert words in said
    assert "quarter_ended" in said and "Квартал закончился" in said and "line" in said


def test_an_unknown_office_level_is_refused_at_publishing(published, tmp_path: Path) -> None:
    folder = tmp_path / "quarterly_duty"
    folder.mkdir()
    text = MODEL.read_text().replace('value="district"', 'value="district,oblast"')
    (folder / "quarterly_duty.bpmn").write_text(text)
    with pytest.raises(ModelError, match="unknown office level.*oblast"):
        published.repository.publish(folder / "quarterly_duty.bpmn", now=PUBLISHED)


# -- starting ---------------------------------------------------------------------------------


def test_the_quarter_opens_one_case_per_district_office_and_fired_twice_adds_none(
    published,
) -> None:
    engine = published
    districts = district_offices(engine)
    assert districts
    counts = engine.management.fire_due_counts(Q4_END)
    assert counts["scheduled_starts"] == len(districts)
    rows = started_cases(engine)
    assert [r["office_code"] for r in rows] == districts
    assert {r["occurrence"] for r in rows} == {Q4_END}
    for row in rows:
        data = engine.runtime.data(row["instance_id"])
        assert data["origin_office"] == row["office_code"]
        assert data["office_level"] == "district"
        assert data["scheduled_at"] == "2026-12-31T19:00:00+00:00"
        assert data["quarter_of"] == "2026-12"  # the model computed its period from it
        view = engine.runtime.get(row["instance_id"])
        assert view.office_code == row["office_code"] and view.started_by == "schedule"
        assert view.created_at == Q4_END  # started at the occurrence, not at the wall clock
        [task] = engine.tasks.list(TaskQuery(instance_id=row["instance_id"]))
        assert task.office_code == row["office_code"]  # the district's own queue
    # fired again, and later in the same quarter: nothing more
    assert engine.management.fire_due(Q4_END) == 0
    assert engine.management.fire_due(datetime(2027, 2, 1, tzinfo=UTC)) == 0
    assert instance_count(engine) == len(districts)
    # nothing waits on the timer start event itself: no timer row for any case
    with engine.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(Timer.__table__)).scalar() == 0
    # another process restores the case from the database and completes it
    other = _engine(engine.db.url, FakeClock(Q4_END))
    try:
        [task] = other.tasks.list(TaskQuery(instance_id=rows[0]["instance_id"]))
        other.tasks.complete(task.task_guid, {}, actor="prosecutor")
        assert other.runtime.get(rows[0]["instance_id"]).status == "completed"
    finally:
        other.db.dispose()
    assert engine.verify_history()["ok"] is True


def test_nothing_starts_before_the_occurrence_nor_for_quarters_before_publishing(
    published,
) -> None:
    engine = published
    # 1 October 2026 is due by now but came before the model was published
    assert engine.management.fire_due(PUBLISHED) == 0
    assert engine.management.fire_due(datetime(2026, 12, 31, 18, 59, 59, tzinfo=UTC)) == 0
    assert instance_count(engine) == 0


def test_a_worker_down_for_three_quarters_catches_up_once(published) -> None:
    engine = published
    clock = FakeClock(datetime(2027, 7, 15, 4, 0, tzinfo=UTC))  # missed Jan, Apr and Jul
    worker_engine = _engine(engine.db.url, clock)
    try:
        worker = Worker(worker_engine)
        districts = district_offices(engine)
        assert worker.poll() == len(districts)
        rows = started_cases(engine)
        assert {r["occurrence"] for r in rows} == {datetime(2027, 6, 30, 19, tzinfo=UTC)}
        assert len(rows) == len(districts)
        clock.set(datetime(2027, 7, 15, 5, 0, tzinfo=UTC))
        assert worker.poll() == 0  # the next round: nothing again
    finally:
        worker_engine.db.dispose()


def test_three_workers_start_each_office_once(published, engines) -> None:
    workers = [engines() for _ in range(3)]
    barrier = threading.Barrier(len(workers))
    started: list[int] = []
    errors: list[BaseException] = []

    def run(engine: Engine) -> None:
        try:
            barrier.wait()
            started.append(engine.management.fire_due_counts(Q4_END)["scheduled_starts"])
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    districts = district_offices(published)
    assert sum(started) == len(districts)
    assert [r["office_code"] for r in started_cases(published)] == districts
    assert instance_count(published) == len(districts)  # no case half-started and kept
    assert published.verify_history()["ok"] is True


def test_a_person_starts_it_by_the_other_start_event(published) -> None:
    engine = published
    office = district_offices(engine)[0]
    iid = engine.runtime.start(
        PROCESS, {"origin_office": office, "scheduled_at": ""}, actor="ivanov"
    )
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    assert task.office_code == office
    with engine.db.read() as conn:  # the calendar's event does not wait inside the case
        assert conn.execute(select(func.count()).select_from(Timer.__table__)).scalar() == 0


def test_a_calendar_only_procedure_cannot_be_started_by_hand(published, tmp_path: Path) -> None:
    folder = tmp_path / "quarterly_duty"
    folder.mkdir()
    text = MODEL.read_text()
    text = text.replace("<bpmn:flowNodeRef>by_hand</bpmn:flowNodeRef>", "")
    text = text.replace("<bpmn:incoming>f_hand</bpmn:incoming>", "")
    start, _, rest = text.partition('<bpmn:startEvent id="by_hand"')
    text = start + rest.partition("</bpmn:startEvent>")[2]
    text = text.replace(
        '<bpmn:sequenceFlow id="f_hand" sourceRef="by_hand" targetRef="period" />', ""
    )
    (folder / "quarterly_duty.bpmn").write_text(text)
    published.repository.publish(folder / "quarterly_duty.bpmn", now=PUBLISHED)
    with pytest.raises(InvalidOperation, match="starts on its calendar only"):
        published.runtime.start(PROCESS, {"scheduled_at": ""}, actor="ivanov")
    # the newest version still starts on its calendar
    assert published.management.fire_due_counts(Q4_END)["scheduled_starts"] == len(
        district_offices(published)
    )


# -- the command ------------------------------------------------------------------------------


def test_timers_fire_now_starts_the_due_occurrence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NADZOR_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("NADZOR_BPMN_DIR", str(FIXTURES))
    runner = CliRunner()

    def cli(*args: str) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    cli("db", "upgrade")
    engine = build_engine(load_settings())
    try:
        seed_organization(engine)
        # published now (the wall clock), by a methodologist of the demo organization
        cli("definitions", "publish", str(MODEL), "--actor", "gp.methodologist", "--note", "v1")
        due = parse_cycle("R/2026-01-01T00:00:00+05:00/P3M").next_after(datetime.now(UTC))
        assert due is not None
        out = json.loads(cli("timers", "fire", "--now", due.isoformat()))
        districts = district_offices(engine)
        assert out["scheduled_starts"] == len(districts) and out["fired"] >= len(districts)
        again = json.loads(cli("timers", "fire", "--now", due.isoformat()))
        assert again["scheduled_starts"] == 0
        assert {r["occurrence"] for r in started_cases(engine)} == {due.astimezone(UTC)}
        [listed] = json.loads(cli("timers", "schedules", "--now", due.isoformat(), "--json"))
        assert listed["process_id"] == PROCESS and listed["start_for"] == ["district"]
        assert listed["last_due"] == due.astimezone(UTC).isoformat()
        assert listed["next_at"] > listed["last_due"]
    finally:
        engine.db.dispose()


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "quarterly_duty"
    folder.mkdir(exist_ok=True)
    text = MODEL.read_text()
    assert old in text
    (folder / "quarterly_duty.bpmn").write_text(text.replace(old, new))
    return folder / "quarterly_duty.bpmn"


def test_only_the_newest_version_schedules(published, tmp_path: Path) -> None:
    # version 2 starts monthly, for the regional offices: version 1's quarter is not started
    path = _variant(tmp_path, 'value="district"', 'value="regional"')
    path.write_text(path.read_text().replace("/P3M", "/P1M"))
    published.repository.publish(path, now=PUBLISHED)
    december = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)  # 1 December, Almaty midnight
    directory = published.extensions["directory"]  # type: ignore[attr-defined]
    regional = sorted(o.code for o in directory.offices() if o.level == "regional")
    assert published.management.fire_due_counts(december)["scheduled_starts"] == len(regional)
    rows = started_cases(published)
    assert [r["office_code"] for r in rows] == regional
    data = published.runtime.data(rows[0]["instance_id"])
    assert data["office_level"] == "regional"
    assert data["regional_office"] == rows[0]["office_code"]  # the domain's facts added


def test_a_failing_start_is_one_incident_and_no_case(published, tmp_path: Path) -> None:
    path = _variant(
        tmp_path,
        'quarter_of = scheduled_at[:7] if scheduled_at else ""',
        "quarter_of = missing_name[:7]",
    )
    published.repository.publish(path, now=PUBLISHED)
    engine = published
    assert engine.management.fire_due_counts(Q4_END)["scheduled_starts"] == 0
    assert engine.management.fire_due_counts(Q4_END)["scheduled_starts"] == 0  # backing off
    assert instance_count(engine) == 0 and started_cases(engine) == []  # nothing half-done
    [incident] = engine.management.incidents()
    assert incident["kind"] == "schedule" and incident["instance_id"] is None
    assert "quarterly_duty" in incident["message"] and "missing_name" in incident["message"]
    assert "attempt 1" in incident["message"]
    # the model is fixed: the next round after the backoff starts the occurrence
    engine.repository.publish(MODEL, now=PUBLISHED)  # the same content as version 1: no-op
    fixed = _variant(tmp_path, "Квартальная обязанность (тест)", "Квартальная обязанность")
    engine.repository.publish(fixed, now=PUBLISHED)
    later = datetime(2026, 12, 31, 19, 2, tzinfo=UTC)
    assert engine.management.fire_due_counts(later)["scheduled_starts"] == len(
        district_offices(engine)
    )
    assert {r["occurrence"] for r in started_cases(engine)} == {Q4_END}
    assert engine.management.incidents() == []  # its incident is resolved


def test_a_changed_calendar_counts_from_its_own_publication(published, tmp_path: Path) -> None:
    path = _variant(tmp_path, "/P3M", "/P1M")  # monthly from version 2, published 10 December
    published.repository.publish(path, now=datetime(2026, 12, 10, 5, 0, tzinfo=UTC))
    # 1 December is the latest monthly occurrence, but the monthly calendar did not exist yet
    assert published.management.fire_due(datetime(2026, 12, 15, tzinfo=UTC)) == 0
    assert published.management.fire_due(Q4_END) == len(district_offices(published))
    # a version that changes only a name keeps the calendar's beginning
    renamed = _variant(tmp_path, "Квартальная обязанность (тест)", "Ежемесячная обязанность")
    renamed.write_text(renamed.read_text().replace("/P3M", "/P1M"))
    published.repository.publish(renamed, now=datetime(2027, 1, 20, tzinfo=UTC))
    february = datetime(2027, 1, 31, 19, 0, tzinfo=UTC)
    assert published.management.fire_due(february) == len(district_offices(published))
