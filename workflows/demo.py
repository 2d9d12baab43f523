"""`nadzor seed-demo`: publish the procedures, build the demo organization, start demo cases.

Idempotent, and resumable after a stop half-way: offices, institutions and users are created
only when missing, a version is only published when its files changed, and each demo case is
its own step recognised by its business key (`demo-01` ...): a re-run starts only the demo
cases that are missing (and completes a first task a stopped run left open). Demo cases are
never added to a database that holds cases other than demo ones.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select

from engine.engine import Engine
from engine.models import HumanTask, ProcessInstance
from engine.tasks import TaskQuery

from .demo_org import DEMO_PASSWORD, INSTITUTIONS, OFFICES, demo_users, seed_directory
from .models import Institution, Office
from .users import UserDirectory, hash_password


def seed_organization(engine: Engine) -> dict[str, int]:
    office, institution = Office.__table__, Institution.__table__
    created = {"offices": 0, "institutions": 0, "users": 0}
    with engine.db.write() as conn:
        known = set(conn.execute(select(office.c.code)).scalars())
        for code, level, kind, parent, ru, kk, en in OFFICES:
            if code not in known:
                conn.execute(
                    insert(office).values(
                        code=code,
                        name=ru,
                        names={"ru": ru, "kk": kk, "en": en},
                        level=level,
                        kind=kind,
                        parent_code=parent,
                    )
                )
                created["offices"] += 1
        known = set(conn.execute(select(institution.c.code)).scalars())
        for code, kind, district, remote, ru, kk, en in INSTITUTIONS:
            if code not in known:
                conn.execute(
                    insert(institution).values(
                        code=code,
                        name=ru,
                        names={"ru": ru, "kk": kk, "en": en},
                        kind=kind,
                        district_office_code=district,
                        remote=remote,
                    )
                )
                created["institutions"] += 1
    directory = UserDirectory(engine.db)
    password_hash = hash_password(DEMO_PASSWORD)  # one hash, shared: the demo password is shared
    now = engine.clock.now()
    for user in demo_users():
        if directory.upsert(password_hash=password_hash, now=now, **user):  # type: ignore[arg-type]
            created["users"] += 1
    seed_directory(engine.db)  # bodies, supervising offices, zonal officers (demo_org.py)
    return created


def _iso(engine: Engine, hours_ago: float) -> str:
    return (engine.clock.now() - timedelta(hours=hours_ago)).isoformat()


def _payload_pr(engine: Engine, institution: str, name: str, hours_ago: float, n: int) -> dict:
    return {
        "institution": institution,
        "convict_name": name,
        "placed_at": _iso(engine, hours_ago),
        "resolution_number": f"ДИЗО-{n}",
        "resolution_date": _iso(engine, hours_ago + 1)[:10],
        "grounds": "Нарушение установленного порядка отбывания наказания",
        "duration_days": 10,
    }


def demo_cases(engine: Engine) -> list[tuple[str, str, dict[str, Any], dict[str, Any] | None]]:
    """(process id, starting user, start payload, data to complete its first task or None).

    Chosen so that a newcomer's first screen is a working queue: fresh checks, one due soon,
    one already breached, cases of every procedure, and one closed case.
    """
    pr = "penalty_room_check"
    return [
        (pr, "tlg.prosecutor", _payload_pr(engine, "UK-161-2", "Серикбаев Нурлан", 2, 118), None),
        (pr, "kar.prosecutor", _payload_pr(engine, "UK-159-11", "Омаров Бахыт", 21, 12), None),
        (pr, "zhz.prosecutor", _payload_pr(engine, "UK-159-21", "Ким Артём", 40, 77), None),
        (pr, "esl.prosecutor", _payload_pr(engine, "SIZO-AST", "Жаксылыков Ерлан", 30, 5), None),
        (
            pr,
            "knv.prosecutor",
            _payload_pr(engine, "SIZO-ALM", "Ахметов Руслан", 5, 41),
            {
                "placement_lawful": True,
                "conditions_lawful": True,
                "findings": "Постановление законно, условия содержания соответствуют требованиям",
            },
        ),
        (
            "torture_report",
            "kar.prosecutor",
            {
                "institution": "UK-159-11",
                "victim_name": "Болатов Санжар",
                "source": "convict_appeal",
                "received_at": _iso(engine, 0.5),
                "description": "Осуждённый заявил о применении физической силы сотрудниками",
            },
            None,
        ),
        (
            "torture_report",
            "tlg.prosecutor",
            {
                "institution": "UK-161-2",
                "victim_name": "Иванов Олег",
                "source": "medical",
                "received_at": _iso(engine, 6),
                "description": "Медицинская часть зафиксировала телесные повреждения",
            },
            None,
        ),
        (
            "npm_pmc_appeal",
            "esl.prosecutor",
            {
                "applicant_kind": "npm",
                "applicant_name": "Участник НПМ Сарсенова А.",
                "institution": "UK-166-4",
                "origin_office": "AST-ESL",
                "received_at": _iso(engine, 48),
                "content": "Жалобы осуждённых на условия содержания в ШИЗО",
            },
            None,
        ),
        (
            "npm_pmc_appeal",
            "zhz.prosecutor",
            {
                "applicant_kind": "pmc",
                "applicant_name": "ОНК Карагандинской области",
                "institution": "UK-159-30",
                "origin_office": "KRG-ZHZ",
                "received_at": _iso(engine, 24 * 12),
                "content": "Отсутствие горячей воды в отряде",
            },
            None,
        ),
        (
            "act_routing",
            "tlg.prosecutor",
            {
                "act_type": "submission",
                "origin_office": "ALM-TLG",
                "addressee": "DUIS-ALM",  # a body of the directory (demo_org.BODIES)
                "summary": "Представление об устранении нарушений условий содержания в ШИЗО",
            },
            None,
        ),
        (
            "act_routing",
            "kar.prosecutor",
            {
                "act_type": "protest",
                "origin_office": "KRG-KAR",
                "addressee": "KUIS-MVD",
                "summary": "Протест на приказ о порядке водворения в ШИЗО",
            },
            None,
        ),
        (
            "act_routing",
            "esl.prosecutor",
            {
                "act_type": "warning",
                "origin_office": "AST-ESL",
                "addressee": "ADM-EC-166-4",
                "summary": "Предостережение о недопустимости нарушения закона",
            },
            None,
        ),
        *_incidents(engine),
        *_emergencies(engine),
    ]


#: (starting login, institution, kind, hours since receipt, description)
Report = tuple[str, str, str, float, str]


def _reports(
    engine: Engine, process_id: str, rows: list[Report]
) -> list[tuple[str, str, dict[str, Any], None]]:
    """Cases of a procedure whose start payload is `institution, kind, received_at,
    description` (incident_report, emergency_report)."""
    return [
        (
            process_id,
            login,
            {
                "institution": institution,
                "kind": kind,
                "received_at": _iso(engine, hours_ago),
                "description": description,
            },
            None,
        )
        for login, institution, kind, hours_ago, description in rows
    ]


def _incidents(engine: Engine) -> list[tuple[str, str, dict[str, Any], None]]:
    """Single incidents (incident_report, ¶11.4, ¶13.5, ¶13.6) of every kind: a fresh one, one
    whose notice to the region is late (3 h), one whose conclusion is late (20 h)."""
    return _reports(
        engine,
        "incident_report",
        [
            ("tlg.prosecutor", "UK-161-2", "self_injury", 1, "Осуждённый нанёс себе порезы"),
            ("kar.prosecutor", "UK-159-11", "hunger_strike", 5, "Голодовка в знак протеста"),
            ("knv.prosecutor", "SIZO-ALM", "suicide", 2, "Попытка суицида в камере"),
            ("esl.prosecutor", "SIZO-AST", "special_means", 22, "Применены наручники"),
        ],
    )


def _emergencies(engine: Engine) -> list[tuple[str, str, dict[str, Any], None]]:
    """Emergencies (emergency_report, ¶2.12, ¶11.3, ¶13.4, ¶13.8): a fresh hunger strike, a riot
    whose district notice and 1-hour notice are already breached, an unlawful influence on its
    way to the pre-trial register, an escape."""
    return _reports(
        engine,
        "emergency_report",
        [
            ("esl.prosecutor", "UK-166-4", "hunger_strike", 0.2, "Голодовка 12 осуждённых"),
            ("zhz.prosecutor", "UK-159-21", "riot", 2, "Осуждённые отряда 5 повредили имущество"),
            ("knv.prosecutor", "SIZO-ALM", "unlawful_influence", 4, "Давление на подследственного"),
            ("tlg.prosecutor", "UK-161-2", "escape", 0.4, "Побег осуждённого с работ"),
        ],
    )


DEMO_KEY_PREFIX = "demo-"


def demo_key(number: int) -> str:
    """The business key of the `number`-th demo case (from 1): how a re-run recognises it."""
    return f"{DEMO_KEY_PREFIX}{number:02d}"


def _demo_instances(engine: Engine) -> dict[str, int] | None:
    """Demo cases already there, by business key; None when the database holds other cases
    (a real database, or one seeded before demo cases had keys): no demo case is added then."""
    instance = ProcessInstance.__table__
    with engine.db.read() as conn:
        others = conn.execute(
            select(func.count())
            .select_from(instance)
            .where(
                (instance.c.business_key.is_(None))
                | (~instance.c.business_key.startswith(DEMO_KEY_PREFIX, autoescape=True))
            )
        ).scalar()
        if others:
            return None
        rows = conn.execute(
            select(instance.c.business_key, instance.c.id).where(
                instance.c.business_key.startswith(DEMO_KEY_PREFIX, autoescape=True)
            )
        ).all()
    return {key: iid for key, iid in rows}


def _has_completed_task(engine: Engine, instance_id: int) -> bool:
    task = HumanTask.__table__
    with engine.db.read() as conn:
        return (
            conn.execute(
                select(task.c.id)
                .where(task.c.instance_id == instance_id, task.c.state == "completed")
                .limit(1)
            ).first()
            is not None
        )


def _start_demo_cases(engine: Engine, available: set[str]) -> int:
    """Start each missing demo case in its own step; returns how many were started."""
    existing = _demo_instances(engine)
    if existing is None:
        return 0
    started = 0
    for number, (process_id, login, payload, complete_with) in enumerate(demo_cases(engine), 1):
        if process_id not in available:
            continue
        key = demo_key(number)
        iid = existing.get(key)
        if iid is None:
            iid = engine.runtime.start(process_id, payload, actor=login, business_key=key)
            started += 1
        if complete_with is not None and not _has_completed_task(engine, iid):
            for task in engine.tasks.list(TaskQuery(instance_id=iid)):
                engine.tasks.complete(task.task_guid, complete_with, actor=login)
    engine.management.fire_due()  # deadlines already passed are recorded as breached now
    engine.management.fire_alerts()  # and reminders that came due are recorded
    return started


def seed(engine: Engine) -> dict[str, Any]:
    published = engine.repository.publish_all(actor="seed-demo", now=engine.clock.now())
    org = seed_organization(engine)
    started = _start_demo_cases(engine, {d.process_id for d, _ in published})
    lines = [
        "published: "
        + (", ".join(f"{d.process_id} v{d.version}" for d, _ in published) or "nothing"),
        f"created: {org['offices']} offices, {org['institutions']} institutions, "
        f"{org['users']} users; {started} demo cases started",
        f"demo logins (password '{DEMO_PASSWORD}'):",
    ]
    lines += [
        f"  {u['login']:<22} {', '.join(u['roles'])} @ {u['office_code']}"  # type: ignore[arg-type]
        for u in demo_users()
    ]
    return {
        "published": [
            {"process_id": d.process_id, "version": d.version, "created": c} for d, c in published
        ],
        "created": org,
        "cases_started": started,
        "lines": lines,
    }
