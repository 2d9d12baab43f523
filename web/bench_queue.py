"""`nadzor bench queue`: the queue pages over 100,000 open cases, in process, timed per page.

A prosecutor opens a queue dozens of times a day; it has to stay fast when the database holds a
whole country's open cases, and it must get there from the `human_task` index and the case
attributes alone, never by restoring workflows. This benchmark shows both as numbers:

1. a fresh database (migrated, demo organization and users, the penalty-room procedure);
2. a few hundred real cases started through the engine in several offices, with deadlines
   spread from overdue to well ahead, and some claimed by the prosecutor who will look;
3. those cases multiplied in SQL (INSERT ... SELECT, a few statements) up to N open cases:
   instances, their open tasks (new task ids, deadlines moved) and their case attributes
   (convict names varied, so a name search has many near misses). Copies carry no workflow
   state: nothing on a queue page may need it, and a restore of one would fail loudly;
4. each queue page through the Flask test client, signed in through the login form, R times
   after a warm-up, while counting workflow deserializations (which must stay 0).
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Connection, func, select, text

from engine.bench import percentile
from engine.config import PROJECT_ROOT, Settings
from engine.engine import Engine
from engine.models import HumanTask, ProcessInstance
from engine.serialization import StateSerializer
from engine.tasks import TaskQuery
from workflows.demo import seed_organization
from workflows.demo_org import DEMO_PASSWORD, INSTITUTIONS, LOGIN_PREFIX
from workflows.migrate import upgrade
from workflows.runtime import build_engine

BPMN_DIR = PROJECT_ROOT / "bpmn"
MODEL = BPMN_DIR / "penalty_room_check" / "penalty_room_check.bpmn"
PROCESS_ID = "penalty_room_check"
LOGIN = "tlg.prosecutor"
OFFICE = "ALM-TLG"
REAL_CASES = 500

# the office we look from gets twice its share, so its queues are the crowded ones
_PLACES = [(code, district) for code, _kind, district, *_ in INSTITUTIONS] + [("UK-161-2", OFFICE)]
_SURNAMES = (
    "Абдрахманов",
    "Байтурсынов",
    "Василенко",
    "Габдуллин",
    "Джаксыбеков",
    "Ермолаев",
    "Жунусов",
    "Зайцев",
    "Искаков",
    "Калмыков",
    "Лаптев",
    "Мусин",
    "Нургалиев",
    "Оразбаев",
    "Пак",
    "Рыспаев",
    "Сатпаев",
    "Тимофеев",
    "Умбетов",
    "Хасенов",
    "Цой",
    "Шарипов",
    "Юсупов",
)
_GIVEN = ("Нурлан", "Алексей", "Ерлан", "Дмитрий", "Бауыржан", "Руслан", "Сергей", "Марат")
_GROUNDS = (
    "Нарушение установленного порядка отбывания наказания",
    "Отказ от выхода на работу (ст. 128 УИК РК)",
    "Хранение запрещённых предметов",
)
_PAGES: tuple[tuple[str, str, Callable[[dict[str, str]], dict[str, str]]], ...] = (
    ("office", "/queue/office", lambda p: {}),
    ("overdue", "/queue/overdue", lambda p: {}),
    ("soon", "/queue/soon", lambda p: {}),
    ("mine", "/queue/mine", lambda p: {}),
    ("search", "/queue/office", lambda p: {"q": p["q"]}),
    ("institution", "/queue/office", lambda p: {"institution": p["institution"]}),
    ("page20", "/queue/office", lambda p: {"page": "20"}),
)


# -- the database ---------------------------------------------------------------------------------


def _prepare(url: str) -> Engine:
    """Migrate, seed the organization, publish the procedure; refuse a database with cases."""
    upgrade(url)
    engine = build_engine(Settings(url, "bench", BPMN_DIR))
    with engine.db.read() as conn:
        cases = conn.execute(select(func.count()).select_from(ProcessInstance.__table__))
        if cases.scalar_one():
            engine.db.dispose()
            raise RuntimeError(f"the benchmark needs a database without cases: {url}")
    seed_organization(engine)
    engine.repository.publish(MODEL, actor="bench", now=engine.clock.now())
    return engine


def _start_real_cases(engine: Engine, count: int) -> str:
    """Start `count` cases the way a prosecutor does; returns a name prefix to search for.

    Placements from 0 to 31 hours ago: a 24-hour check is then due within a day or, for about
    a fifth, overdue (and has its breach-control task for the regional unit, as the engine
    decides on its own); a remote institution's 48-hour check is due within two days.
    """
    now = engine.clock.now()
    search = ""
    for i in range(count):
        institution, district = _PLACES[i % len(_PLACES)]
        hours_ago = (i * 37) % 31 + (i % 60) / 60
        name = f"{_SURNAMES[i % len(_SURNAMES)]} {_GIVEN[i // len(_SURNAMES) % len(_GIVEN)]}"
        payload = {
            "institution": institution,
            "convict_name": name,
            "placed_at": (now - timedelta(hours=hours_ago)).isoformat(),
            "resolution_number": f"ДИЗО-{1000 + i}",
            "resolution_date": (now - timedelta(hours=hours_ago + 1)).date().isoformat(),
            "grounds": _GROUNDS[i % len(_GROUNDS)],
            "duration_days": 5 + i % 11,
        }
        engine.runtime.start(PROCESS_ID, payload, actor=f"{LOGIN_PREFIX[district]}.prosecutor")
        if district == OFFICE and not search:
            search = name[:5]
    # some of the office's checks are already taken: "my tasks" has rows, the office queue fewer
    office = engine.tasks.list(TaskQuery(offices=[OFFICE], roles=["prosecutor"], limit=count))
    for k, task in enumerate(office):
        if k % 8 == 0:
            engine.tasks.claim(task.task_guid, actor=LOGIN, office_code=OFFICE)
        elif k % 8 == 1:
            engine.tasks.claim(task.task_guid, actor="tlg.prosecutor2", office_code=OFFICE)
    return search


def _dialect_sql(conn: Connection) -> dict[str, str]:
    """The few expressions SQLite and PostgreSQL spell differently (time shift, task id)."""
    # a copy's id: 8 hex digits of its generation, 12 of its template task; the version nibble
    # is 0, so it can never equal a real (version 4) task id
    if conn.dialect.name == "sqlite":
        return {
            # SQLite keeps instants as naive text with microseconds; datetime() drops them
            "shift": "datetime({col}, '+' || ({hours}) || ' hours') || substr({col}, 20)",
            "guid": "printf('%08x-0000-0000-0000-%012x', gen.g, ht.id)",
        }
    return {
        "shift": "{col} + ({hours}) * interval '1 hour'",
        "guid": "lpad(to_hex(gen.g), 8, '0') || '-0000-0000-0000-' || lpad(to_hex(ht.id), 12, '0')",
    }


# generation numbers 1..:generations, for the cross join that makes the copies
_GENERATIONS = "WITH RECURSIVE gen(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM gen WHERE g < :G) "
# which copies exist: every generation but the last, which stops at the :cutoff template
_WANTED = "(gen.g < :G OR {id} <= :cutoff)"
# how far a copy's deadlines move: 8 % stay (overdue or due soon), the rest 1 to 61 days later
_HOURS = (
    "CASE WHEN (gen.g * 7919 + {id} * 104729) % 100 < 8 THEN 0 "
    "ELSE 24 + (gen.g * 131 + {id} * 977) % 1440 END"
)


def _multiply(engine: Engine, cases: int) -> None:
    """Copy the running cases, with their open tasks and attributes, up to `cases` in all.

    A copy's id is its template's plus a multiple of the largest template id, so tasks and
    attributes find their copied case by arithmetic, without a mapping table.
    """
    with engine.db.write() as conn:
        template_ids = list(
            conn.execute(
                select(ProcessInstance.id)
                .where(ProcessInstance.status == "running")
                .order_by(ProcessInstance.id)
            ).scalars()
        )
        missing = cases - len(template_ids)
        if missing <= 0:
            return
        stride = template_ids[-1]
        generations, rest = divmod(missing, len(template_ids))
        cutoff = template_ids[rest - 1] if rest else template_ids[-1]
        generations += 1 if rest else 0
        params = {"G": generations, "cutoff": cutoff, "stride": stride}
        d = _dialect_sql(conn)
        hours = _HOURS.format(id="ht.instance_id")

        def shifted(col: str) -> str:
            return d["shift"].format(col=f"ht.{col}", hours=hours)

        conn.execute(
            text(
                _GENERATIONS
                + "INSERT INTO process_instance (id, definition_id, process_id, version, status,"
                " revision, state, business_key, summary, started_by, office_code, created_at,"
                " updated_at, completed_at, audit_seq, audit_head)"
                " SELECT t.id + gen.g * :stride, t.definition_id, t.process_id, t.version,"
                " t.status, t.revision, '', t.business_key, t.summary, t.started_by,"
                " t.office_code, t.created_at, t.updated_at, t.completed_at, 0, ''"
                " FROM process_instance t CROSS JOIN gen"
                " WHERE t.status = 'running' AND " + _WANTED.format(id="t.id")
            ),
            params,
        )
        conn.execute(
            text(
                _GENERATIONS
                + "INSERT INTO human_task (instance_id, task_guid, process_id, task_name, title,"
                " lane, role, office_code, assignee, form, created_at, due_at, state,"
                " completed_by, completed_at, remind_at, reminded_at, breached_at, titles)"
                f" SELECT ht.instance_id + gen.g * :stride, {d['guid']}, ht.process_id,"
                " ht.task_name, ht.title, ht.lane, ht.role, ht.office_code, ht.assignee,"
                f" ht.form, ht.created_at, {shifted('due_at')}, ht.state, ht.completed_by,"
                f" ht.completed_at, {shifted('remind_at')}, ht.reminded_at,"
                f" CASE WHEN ({hours}) = 0 THEN ht.breached_at END, ht.titles"
                " FROM human_task ht JOIN process_instance t ON t.id = ht.instance_id"
                " CROSS JOIN gen"
                " WHERE t.status = 'running' AND ht.state = 'ready' AND t.id <= :stride AND "
                + _WANTED.format(id="t.id")
            ),
            params,
        )
        # the same person in another case: "<name> <n>", so a name matches many cases
        conn.execute(
            text(
                _GENERATIONS + "INSERT INTO case_attribute (instance_id, name, value, value_norm)"
                " SELECT a.instance_id + gen.g * :stride, a.name,"
                " CASE WHEN a.name = 'convict_name' THEN a.value || ' ' || gen.g ELSE a.value END,"
                " CASE WHEN a.name = 'convict_name' THEN a.value_norm || ' ' || gen.g"
                " ELSE a.value_norm END"
                " FROM case_attribute a JOIN process_instance t ON t.id = a.instance_id"
                " CROSS JOIN gen"
                " WHERE t.status = 'running' AND t.id <= :stride AND " + _WANTED.format(id="t.id")
            ),
            params,
        )
        # their words for the name search, and the number each copied name got
        conn.execute(
            text(
                _GENERATIONS + "INSERT INTO case_term (instance_id, term)"
                " SELECT ct.instance_id + gen.g * :stride, ct.term"
                " FROM case_term ct JOIN process_instance t ON t.id = ct.instance_id"
                " CROSS JOIN gen"
                " WHERE t.status = 'running' AND t.id <= :stride AND " + _WANTED.format(id="t.id")
            ),
            params,
        )
        conn.execute(
            text(
                _GENERATIONS + "INSERT INTO case_term (instance_id, term)"
                " SELECT a.instance_id + gen.g * :stride, CAST(gen.g AS TEXT)"
                " FROM case_attribute a JOIN process_instance t ON t.id = a.instance_id"
                " CROSS JOIN gen"
                " WHERE a.name = 'convict_name' AND t.status = 'running' AND t.id <= :stride"
                " AND " + _WANTED.format(id="t.id")
            ),
            params,
        )
        if conn.dialect.name == "postgresql":  # ids were given: move the sequence past them
            conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('process_instance', 'id'),"
                    " (SELECT max(id) FROM process_instance))"
                )
            )


def _analyze(engine: Engine) -> None:
    """Fresh statistics, as a maintained production database has: the planner picks by them."""
    with engine.db.write() as conn:
        conn.execute(text("ANALYZE"))


def _counts(engine: Engine) -> dict[str, int]:
    inst, task = ProcessInstance.__table__, HumanTask.__table__
    with engine.db.read() as conn:
        open_cases = conn.execute(
            select(func.count()).select_from(inst).where(inst.c.status == "running")
        ).scalar_one()
        open_tasks = conn.execute(
            select(func.count()).select_from(task).where(task.c.state == "ready")
        ).scalar_one()
    return {"open_cases": open_cases, "open_tasks": open_tasks}


# -- the pages ------------------------------------------------------------------------------------


@contextmanager
def _counting_restores() -> Iterator[list[int]]:
    """Count every workflow deserialization (`StateSerializer.loads`) while the block runs."""
    original = StateSerializer.loads
    counter = [0]

    def counted(self: StateSerializer, *args: Any, **kwargs: Any) -> Any:
        counter[0] += 1
        return original(self, *args, **kwargs)

    StateSerializer.loads = counted  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        StateSerializer.loads = original  # type: ignore[method-assign]


def _sign_in(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    if match is None:
        raise RuntimeError("the login page has no CSRF token")
    response = client.post(
        "/login", data={"login": LOGIN, "password": DEMO_PASSWORD, "csrf_token": match.group(1)}
    )
    if response.status_code != 302:
        raise RuntimeError(f"signing in as {LOGIN} failed: {response.status_code}")


def _get(client: FlaskClient, path: str, params: dict[str, str]) -> tuple[str, float]:
    t = time.perf_counter()
    response = client.get(path, query_string=params)
    took = time.perf_counter() - t
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} {params}: {response.status_code}, not 200")
    return response.get_data(as_text=True), took


def _measure(url: str, repeat: int, search: str) -> dict[str, Any]:
    """Time every page R times after one warm-up, on an engine with an empty workflow cache,
    so any workflow a page touched would have to be deserialized (and be counted)."""
    from web.app import create_app

    engine = build_engine(Settings(url, "bench", BPMN_DIR))
    try:
        app = create_app({"NADZOR_ENGINE": engine, "TESTING": True, "SECRET_KEY": "bench"})
        client = app.test_client()
        params = {"q": search, "institution": "UK-161-2"}
        figures: dict[str, Any] = {}
        with _counting_restores() as restores:
            _sign_in(client)
            for name, path, extra in _PAGES:
                page, _ = _get(client, path, extra(params))  # warm-up
                shown = re.search(r"<small>\((\d+\+?)\)</small>", page)
                if shown is None:
                    raise RuntimeError(f"the {name} page shows no total")
                figures[f"{name}_total"] = shown.group(1)  # "1000+" past the queue's count cap
                durations = [_get(client, path, extra(params))[1] for _ in range(repeat)]
                figures[f"{name}_p50_ms"] = round(statistics.median(durations) * 1000, 3)
                figures[f"{name}_p95_ms"] = round(percentile(durations, 0.95) * 1000, 3)
        figures["workflow_restores"] = restores[0]
        # the page's total must be the index's count for the same rule (or its cap)
        counted = engine.tasks.count(
            TaskQuery(offices=[OFFICE], roles=["prosecutor"], unassigned=True)
        )
        figures["office_tasks"] = counted
        shown_total = figures["office_total"]
        if shown_total.endswith("+"):
            if counted < int(shown_total[:-1]):
                raise RuntimeError(f"office queue shows {shown_total}, index {counted}")
        elif int(shown_total) != counted:
            raise RuntimeError(f"office queue shows {shown_total}, index {counted}")
        return figures
    finally:
        engine.db.dispose()


# -- the whole run ------------------------------------------------------------------------------


def run_queue_bench(
    cases: int = 100_000,
    repeat: int = 30,
    database_url: str | None = None,
    *,
    real_cases: int = REAL_CASES,
) -> dict[str, Any]:
    """Fill a fresh database with `cases` open cases and time the queue pages `repeat` times."""
    if repeat < 1 or cases < 1:
        raise ValueError("cases and repeat must be at least 1")
    with tempfile.TemporaryDirectory(prefix="nadzor-queue-bench-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = _prepare(url)
        try:
            t0 = time.perf_counter()
            search = _start_real_cases(engine, min(real_cases, cases))
            t1 = time.perf_counter()
            _multiply(engine, cases)
            _analyze(engine)
            t2 = time.perf_counter()
            result: dict[str, Any] = {
                "backend": engine.db.engine.dialect.name,
                "cases": cases,
                "real_cases": min(real_cases, cases),
                "repeat": repeat,
                "fill_s": round(t2 - t0, 2),  # real cases, copies, ANALYZE
                "copy_s": round(t2 - t1, 2),  # copies and ANALYZE only
                "search_q": search,
                **_counts(engine),
            }
        finally:
            engine.db.dispose()
        result.update(_measure(url, repeat, search))
    return dict(sorted(result.items()))


def format_table(result: dict[str, Any]) -> list[str]:
    """The figures as a table for people: one line per page, then the database's size."""
    lines = [f"{'page':<12} {'p50 ms':>10} {'p95 ms':>10} {'tasks':>8}"]
    for name, _path, _params in _PAGES:
        p50, p95 = result[f"{name}_p50_ms"], result[f"{name}_p95_ms"]
        lines.append(f"{name:<12} {p50:>10.3f} {p95:>10.3f} {result[f'{name}_total']:>8}")
    lines.append("")
    for key, value in result.items():
        if not key.endswith(("_ms", "_total")):
            lines.append(f"{key:>18}: {value}")
    return lines
