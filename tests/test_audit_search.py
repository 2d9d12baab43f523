"""An auditor finds cases: by procedure and version, office, institution, a person's name, the
date a case was opened, its status, a breached deadline, an incident; page by page; only within
the auditor's scope. The breach and incident marks are set where the breach or the incident is
recorded, and migration 0006 sets them for cases stored before it."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.audit_search import CaseQuery, CaseSearch
from engine.migrate import upgrade
from engine.step import record_incident
from engine.tasks import TaskQuery
from tests.conftest import BENCH_MODEL
from tests.test_web_queue import sign_in
from web.app import create_app

PROCESS = "bench_penalty_check"


def payload(institution: str, name: str, placed_at: object) -> dict[str, object]:
    """A placement in a penalty room at `placed_at` (the check is due 24 hours later)."""
    return {
        "institution": institution,
        "convict_name": name,
        "remote": False,
        "placed_at": placed_at.isoformat(),  # type: ignore[attr-defined]
    }


@pytest.fixture
def cases(domain_engine, clock, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Five cases in three regions, two versions, three days; one breached, one with an
    incident, one closed.

    - talgar: v1, Талгар (UK-161-2), Сидоров Павел, 24.11; its deadline is breached
    - konayev: v1, Конаев (SIZO-ALM), Петров Иван, 24.11; closed
    - karaganda: v2, Караганда (UK-159-11), Ахметов Серик, 26.11; an incident
    - zhezkazgan: v2, Жезказган (UK-159-21), Сидоренко Анна, 26.11
    - talgar2: v2, Талгар (UK-161-2), Ким Олег, 27.11
    """
    eng = domain_engine
    eng.repository.publish(BENCH_MODEL, now=clock.now())
    ids = {
        "talgar": eng.runtime.start(
            PROCESS, payload("UK-161-2", "Сидоров Павел", clock.now()), actor="tlg.prosecutor"
        ),
        "konayev": eng.runtime.start(
            PROCESS, payload("SIZO-ALM", "Петров Иван", clock.now()), actor="knv.prosecutor"
        ),
    }
    # the breach is recorded by the alerts round (as the worker does every minute)
    clock.advance(timedelta(days=1, hours=1))
    assert eng.management.fire_alerts()["breaches"] == 2
    # Конаев's check was done, late: that breach stays on the case; the case closes
    [task] = eng.tasks.list(TaskQuery(instance_id=ids["konayev"]))
    eng.tasks.complete(
        task.task_guid,
        {"placement_lawful": True, "conditions_lawful": True, "findings": "ok"},
        actor="knv.prosecutor",
    )
    # a second version of the procedure, then two days later the Karaganda cases
    second = tmp_path / "penalty_check.bpmn"
    second.write_text(BENCH_MODEL.read_text() + "\n<!-- version 2 -->\n", encoding="utf-8")
    eng.repository.publish(second, now=clock.now())
    clock.advance(timedelta(days=1))
    ids["karaganda"] = eng.runtime.start(
        PROCESS, payload("UK-159-11", "Ахметов Серик", clock.now()), actor="kar.prosecutor"
    )
    ids["zhezkazgan"] = eng.runtime.start(
        PROCESS, payload("UK-159-21", "Сидоренко Анна", clock.now()), actor="zhz.prosecutor"
    )
    record_incident(eng.db, ids["karaganda"], "service", "the register did not answer", clock.now())
    clock.advance(timedelta(days=1))
    ids["talgar2"] = eng.runtime.start(
        PROCESS, payload("UK-161-2", "Ким Олег", clock.now()), actor="tlg.prosecutor"
    )
    return ids


@pytest.fixture
def app(domain_engine):  # type: ignore[no-untyped-def]
    return create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True})


def found(client, **params: str) -> list[int]:  # type: ignore[no-untyped-def]
    response = client.get("/audit/", query_string=params)
    assert response.status_code == 200, response.status_code
    return [int(x) for x in re.findall(r'data-case="(\d+)"', response.get_data(as_text=True))]


def as_user(app, login: str):  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert sign_in(client, login).status_code == 302
    return client


def test_each_filter_finds_its_cases_and_only_those(app, cases) -> None:
    gp = as_user(app, "gp.auditor")
    c = cases
    newest_first = [c["talgar2"], c["zhezkazgan"], c["karaganda"], c["konayev"], c["talgar"]]
    assert found(gp) == newest_first
    assert found(gp, q="сидор") == [c["zhezkazgan"], c["talgar"]]  # word beginnings
    assert found(gp, q="Сидоров Павел") == [c["talgar"]]
    assert found(gp, q="павел сидоров") == [c["talgar"]]  # any order of the words
    assert found(gp, q="идоров") == []  # inside a word: no
    assert found(gp, q=str(c["konayev"])) == [c["konayev"]]  # a case number
    assert found(gp, procedure=PROCESS) == newest_first
    assert found(gp, procedure="penalty_room_check") == []
    assert found(gp, procedure=PROCESS, version="2") == newest_first[:3]
    assert found(gp, version="1") == [c["konayev"], c["talgar"]]
    assert found(gp, office="KRG-KAR") == [c["karaganda"]]
    assert found(gp, institution="UK-161-2") == [c["talgar2"], c["talgar"]]
    # opened dates are Almaty days: 24.11 (the first two), 26.11, 27.11
    assert found(gp, **{"from": "26.11.2026", "to": "26.11.2026"}) == newest_first[1:3]
    assert found(gp, **{"from": "27.11.2026"}) == [c["talgar2"]]
    assert found(gp, to="25.11.2026") == [c["konayev"], c["talgar"]]
    assert found(gp, status="completed") == [c["konayev"]]
    assert found(gp, status="running") == newest_first[:3] + [c["talgar"]]
    assert found(gp, breached="1") == [c["konayev"], c["talgar"]]
    assert found(gp, incident="1") == [c["karaganda"]]
    assert found(gp, breached="1", status="running", q="сидоров") == [c["talgar"]]


def test_a_result_is_told_in_words_and_links_to_the_case_and_its_trace(app, cases) -> None:
    gp = as_user(app, "gp.auditor")
    page = gp.get("/audit/", query_string={"q": "Сидоров Павел"}).get_data(as_text=True)
    iid = cases["talgar"]
    assert "Сидоров Павел" in page
    assert "Прокуратура Талгарского района" in page  # the office by name
    assert "24.11.2026, 10:00" in page  # opened, Almaty time
    assert "нарушен срок" in page.lower() or "срок нарушен" in page.lower()
    assert f'href="/cases/{iid}"' in page
    assert f'href="/audit/cases/{iid}"' in page  # the trace
    assert f'href="/audit/cases/{iid}/access"' in page
    gp.post("/language", data={"locale": "en", "csrf_token": _csrf(page)})
    english = gp.get("/audit/", query_string={"q": "Сидоров Павел"}).get_data(as_text=True)
    assert "Talgar District Prosecutor" in english and "24 Nov 2026, 10:00" in english
    assert "deadline breached" in english and "open" in english


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def test_a_district_auditor_sees_only_the_district_and_a_regional_one_the_region(
    app, cases
) -> None:
    c = cases
    district = as_user(app, "tlg.auditor")
    assert found(district) == [c["talgar2"], c["talgar"]]
    assert found(district, q="сидор") == [c["talgar"]]  # not Сидоренко of Жезказган
    # an office or institution outside the scope is no filter and no leak
    page = district.get("/audit/", query_string={"office": "KRG-KAR"}).get_data(as_text=True)
    assert f'data-case="{c["karaganda"]}"' not in page
    assert "Выберите прокуратуру в пределах вашей компетенции" in page
    assert found(district, institution="UK-159-11") == [c["talgar2"], c["talgar"]]
    # the choices offered are the scope's only
    plain = district.get("/audit/").get_data(as_text=True)
    assert 'value="UK-161-2"' in plain and 'value="ALM-TLG"' in plain
    assert 'value="UK-159-11"' not in plain and 'value="KRG-KAR"' not in plain
    region = as_user(app, "alm.auditor")
    assert found(region) == [c["talgar2"], c["konayev"], c["talgar"]]
    assert found(region, q=str(c["karaganda"])) == []
    assert found(as_user(app, "gp.auditor"), incident="1") == [c["karaganda"]]
    assert found(region, incident="1") == []


def test_results_come_fifty_a_page(app, domain_engine, clock) -> None:
    domain_engine.repository.publish(BENCH_MODEL, now=clock.now())
    ids = []
    for i in range(53):
        ids.append(
            domain_engine.runtime.start(
                PROCESS, payload("UK-161-2", f"Осужденный {i}", clock.now()), actor="tlg.prosecutor"
            )
        )
        clock.advance(timedelta(minutes=1))
    auditor = as_user(app, "tlg.auditor")
    first = auditor.get("/audit/").get_data(as_text=True)
    assert "(53)" in first and 'rel="next"' in first and 'rel="prev"' not in first
    assert found(auditor) == ids[::-1][:50]
    assert found(auditor, page="2") == ids[::-1][50:]
    second = auditor.get("/audit/?page=2").get_data(as_text=True)
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert found(auditor, page="zz") == ids[::-1][:50]  # nonsense is page 1


def test_only_auditors_search_and_an_auditor_lands_there_after_signing_in(app, cases) -> None:
    prosecutor = as_user(app, "tlg.prosecutor")
    assert prosecutor.get("/audit/").status_code == 403
    assert prosecutor.get("/audit/access").status_code == 403
    assert "/audit/" not in prosecutor.get("/queue/office").get_data(as_text=True)
    client = app.test_client()
    response = sign_in(client, "tlg.auditor")
    assert response.headers["Location"].endswith("/audit/")
    assert client.get("/").headers["Location"].endswith("/audit/")
    page = client.get("/audit/").get_data(as_text=True)
    assert '<a href="/audit/">Аудит</a>' in page
    assert sign_in(app.test_client(), "tlg.prosecutor").headers["Location"].endswith("/queue")


def test_the_search_writes_nothing(app, cases) -> None:
    auditor = as_user(app, "gp.auditor")
    assert auditor.post("/audit/").status_code in (400, 405)  # no CSRF token, or no such method
    token = _csrf(auditor.get("/audit/").get_data(as_text=True))
    assert auditor.post("/audit/", data={"csrf_token": token}).status_code == 405


def test_the_marks_are_set_where_the_breach_and_the_incident_are_recorded(
    domain_engine, clock
) -> None:
    eng = domain_engine
    eng.repository.publish(BENCH_MODEL, now=clock.now())
    iid = eng.runtime.start(
        PROCESS, payload("UK-161-2", "Сидоров", clock.now()), actor="tlg.prosecutor"
    )
    search = CaseSearch(eng.db)
    [hit] = search.find(CaseQuery())
    assert hit.breached_at is None and hit.incident_at is None
    clock.advance(timedelta(hours=24, minutes=1))
    eng.management.fire_alerts()
    [hit] = search.find(CaseQuery(breached=True))
    assert hit.id == iid and hit.breached_at == clock.now()
    first = clock.now()
    clock.advance(timedelta(hours=1))
    record_incident(eng.db, iid, "script", "a script failed", clock.now())
    record_incident(eng.db, iid, "script", "it failed again", clock.now() + timedelta(hours=1))
    [hit] = search.find(CaseQuery(incident=True))
    assert hit.breached_at == first and hit.incident_at == clock.now()  # the first of each
    assert search.count(CaseQuery(incident=True, breached=True)) == 1
    record_incident(eng.db, None, "script", "a start failed", clock.now())  # no case: no mark


def test_migration_0006_marks_the_cases_stored_before_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, revision="0005")
    db = sa.create_engine(url)
    row = (
        "INSERT INTO process_instance (id, definition_id, process_id, version, status,"
        " revision, state, summary, started_by, created_at, updated_at, audit_seq, audit_head)"
        " VALUES ({id}, 1, 'p', 1, 'running', 0, '', '{{}}', 'x', '2026-11-24 00:00:00',"
        " '2026-11-24 00:00:00', 0, '')"
    )
    with db.begin() as conn:
        for iid in (1, 2, 3):
            conn.execute(sa.text(row.format(id=iid)))
        conn.execute(
            sa.text(
                "INSERT INTO human_task (instance_id, task_guid, process_id, task_name, title,"
                " created_at, state, breached_at) VALUES"
                " (1, 'a', 'p', 't', 't', '2026-11-24 00:00:00', 'ready', '2026-11-25 05:00:00'),"
                " (2, 'b', 'p', 't', 't', '2026-11-24 00:00:00', 'ready', NULL)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO incident (instance_id, kind, message, created_at)"
                " VALUES (2, 'timer', 'x', '2026-11-26 06:00:00')"
            )
        )
    db.dispose()
    upgrade(url)
    db = sa.create_engine(url)
    with db.connect() as conn:
        marks = conn.execute(
            sa.text("SELECT id, breached_at, incident_at FROM process_instance ORDER BY id")
        ).all()
    db.dispose()
    assert [(r[0], r[1] is not None, r[2] is not None) for r in marks] == [
        (1, True, False),
        (2, False, True),
        (3, False, False),
    ]
    assert str(marks[0][1]).startswith("2026-11-25 05:00")
