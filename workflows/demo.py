"""`nadzor seed-demo`: publish the procedures, build the demo organization, start demo cases.

Idempotent: offices, institutions and users are created only when missing, a version is only
published when its files changed, and demo cases are only started into an empty case table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select

from engine.engine import Engine
from engine.models import ProcessInstance

from .demo_org import DEMO_PASSWORD, INSTITUTIONS, OFFICES, demo_users
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
    return created


DemoCase = Callable[[Engine], Any]


def _iso(engine: Engine, hours_ago: float) -> str:
    return (engine.clock.now() - timedelta(hours=hours_ago)).isoformat()


def demo_cases(engine: Engine) -> list[tuple[str, str, dict[str, Any]]]:
    """(process id, starting user, start payload) of the demo cases."""
    return [
        (
            "penalty_room_check",
            "tlg.prosecutor",
            {
                "institution": "UK-161-2",
                "convict_name": "Серикбаев Нурлан",
                "placed_at": _iso(engine, 2),
                "resolution_number": "ДИЗО-118",
                "resolution_date": _iso(engine, 3)[:10],
                "grounds": "Нарушение распорядка дня",
                "duration_days": 10,
            },
        ),
        (
            "penalty_room_check",
            "zhz.prosecutor",
            {
                "institution": "UK-159-21",
                "convict_name": "Ким Артём",
                "placed_at": _iso(engine, 40),
                "resolution_number": "ШИЗО-77",
                "resolution_date": _iso(engine, 41)[:10],
                "grounds": "Отказ от работы",
                "duration_days": 7,
            },
        ),
        (
            "penalty_room_check",
            "kar.prosecutor",
            {
                "institution": "UK-159-11",
                "convict_name": "Омаров Бахыт",
                "placed_at": _iso(engine, 30),
                "resolution_number": "ШИЗО-12",
                "resolution_date": _iso(engine, 31)[:10],
                "grounds": "Хранение запрещённых предметов",
                "duration_days": 15,
            },
        ),
    ]


def seed(engine: Engine) -> dict[str, Any]:
    published = engine.repository.publish_all(actor="seed-demo", now=engine.clock.now())
    org = seed_organization(engine)
    started = 0
    with engine.db.read() as conn:
        has_cases = conn.execute(
            select(func.count()).select_from(ProcessInstance.__table__)
        ).scalar()
    if not has_cases:
        available = {d.process_id for d, _ in published}
        for process_id, login, payload in demo_cases(engine):
            if process_id in available:
                engine.runtime.start(process_id, payload, actor=login)
                started += 1
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
