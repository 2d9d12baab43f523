"""The prosecutor's workspace beyond the bare queue: languages, filters and saved filters,
delegation and bulk reassignment, drafts, start pages, reminders, and refusals on record."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.history import SYSTEM_CHAIN
from engine.tasks import TaskQuery
from tests.conftest import ROOT
from tests.test_web_queue import csrf, sign_in
from web.app import create_app

PENALTY = ROOT / "bpmn" / "penalty_room_check" / "penalty_room_check.bpmn"


def placement(name: str = "Петров Иван", institution: str = "UK-161-2") -> dict:
    return {
        "institution": institution,
        "convict_name": name,
        "placed_at": "2026-11-24T09:30:00+05:00",
        "resolution_number": "145",
        "resolution_date": "2026-11-24",
        "grounds": "Отказ от работы",
        "duration_days": 10,
    }


@pytest.fixture
def app(domain_engine, clock):  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(PENALTY, now=clock.now())
    return create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True})


@pytest.fixture
def web(app):  # type: ignore[no-untyped-def]
    return app.test_client()


def start(engine, **kw: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    iid = engine.runtime.start("penalty_room_check", placement(**kw), actor="tlg.prosecutor")
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    return iid, task.task_guid


def page(client, url: str) -> str:  # type: ignore[no-untyped-def]
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


# -- languages ---------------------------------------------------------------------------------


def test_the_queue_speaks_kazakh_after_the_switch_and_remembers_it(web, app, domain_engine) -> None:
    start(domain_engine)
    sign_in(web, "tlg.prosecutor")
    russian = page(web, "/queue")
    assert "Очередь прокуратуры" in russian and "Проверить законность водворения" in russian

    web.post("/language", data={"locale": "kk", "next": "/queue", "csrf_token": csrf(russian)})
    kazakh = page(web, "/queue")
    assert "Прокуратура кезегі" in kazakh and "Алу" in kazakh  # the queue and its Claim button
    assert "25.11.2026, 09:30" in kazakh  # a four-digit year (CLDR's short form has two)
    assert '<html lang="kk">' in kazakh
    # the task title comes from the model's own Kazakh translation
    assert "Проверить законность водворения" not in kazakh

    second = app.test_client()  # another browser: the choice is kept on the account
    sign_in(second, "tlg.prosecutor")
    assert "Прокуратура кезегі" in page(second, "/queue")

    web.post("/language", data={"locale": "en", "next": "/queue", "csrf_token": csrf(kazakh)})
    english = page(web, "/queue")
    assert "Office queue" in english and "25 Nov 2026, 09:30" in english  # not 11/25/26


def test_an_unknown_language_is_ignored(web) -> None:
    sign_in(web, "tlg.prosecutor")
    first = page(web, "/queue")
    web.post("/language", data={"locale": "xx", "csrf_token": csrf(first)})
    assert "Очередь прокуратуры" in page(web, "/queue")


# -- filters -----------------------------------------------------------------------------------


def test_filters_narrow_the_queue_and_saved_filters_are_personal_or_shared(
    web, app, domain_engine
) -> None:
    petrov, _ = start(domain_engine, name="Петров Иван")
    sidorov, _ = start(domain_engine, name="Сидоров Павел")
    sign_in(web, "tlg.prosecutor")
    found = page(web, "/queue/office?q=сидор")
    assert f"№ {sidorov}" in found and f"№ {petrov}" not in found
    by_number = page(web, f"/queue/office?q={petrov}")
    assert f"№ {petrov}" in by_number and f"№ {sidorov}" not in by_number
    elsewhere = page(web, "/queue/office?institution=SIZO-ALM")
    assert f"№ {petrov}" not in elsewhere and f"№ {sidorov}" not in elsewhere

    token = csrf(found)
    web.post(
        "/filters", data={"csrf_token": token, "queue": "office", "q": "сидор", "name": "Сидоров"}
    )
    web.post(
        "/filters",
        data={
            "csrf_token": token,
            "queue": "office",
            "q": "петров",
            "name": "Петровы",
            "shared": "on",
        },
    )
    mine = page(web, "/queue/office")
    assert "Сидоров</a>" in mine and "Петровы</a>" in mine

    colleague = app.test_client()
    sign_in(colleague, "tlg.prosecutor2")
    theirs = page(colleague, "/queue/office")
    assert "Петровы</a>" in theirs and "Сидоров</a>" not in theirs  # only the shared one
    stranger = app.test_client()
    sign_in(stranger, "kar.prosecutor")
    assert "Петровы</a>" not in page(stranger, "/queue/office")

    saved = app.extensions["nadzor.filters"].visible_to("tlg.prosecutor2", "ALM-TLG")
    [shared] = [f for f in saved if f.name == "Петровы"]
    assert (
        colleague.post(
            f"/filters/{shared.id}/delete", data={"csrf_token": csrf(theirs)}
        ).status_code
        == 403
    )
    assert web.post(f"/filters/{shared.id}/delete", data={"csrf_token": token}).status_code == 302
    assert "Петровы</a>" not in page(colleague, "/queue/office")


def test_a_long_queue_counts_up_to_its_cap_and_still_pages_on(web, domain_engine, monkeypatch):
    import web.tasks_ui as tasks_ui

    monkeypatch.setattr(tasks_ui, "PAGE", 1)
    monkeypatch.setattr(tasks_ui, "COUNT_CAP", 2)
    cases = [start(domain_engine, name=f"Осуждённый {n}")[0] for n in range(3)]
    sign_in(web, "tlg.prosecutor")
    first = page(web, "/queue/office")
    assert "<small>(2+)</small>" in first  # counted to the cap, not past it
    assert 'rel="next"' in first and 'rel="prev"' not in first
    last = page(web, "/queue/office?page=3")
    assert f"№ {cases[2]}" in last or f"№ {cases[0]}" in last
    assert 'rel="prev"' in last and 'rel="next"' not in last  # the third task is the last
    assert "Задач нет." in page(web, "/queue/office?page=4")


def test_tasks_without_a_deadline_come_after_every_dated_task(app, domain_engine) -> None:
    early, _ = start(domain_engine, name="Первый")
    late, _ = start(domain_engine, name="Второй")
    undated, _ = start(domain_engine, name="Без срока")
    with domain_engine.db.write() as conn:
        conn.exec_driver_sql(f"UPDATE human_task SET due_at = NULL WHERE instance_id = {undated}")
        conn.exec_driver_sql(
            f"UPDATE human_task SET due_at = due_at + interval '1 day' WHERE instance_id = {early}"
            if conn.dialect.name == "postgresql"
            else "UPDATE human_task SET due_at = datetime(due_at, '+1 day') WHERE instance_id = "
            f"{early}"
        )
    order = [t.instance_id for t in domain_engine.tasks.list(TaskQuery(process_id=None))]
    assert order == [late, early, undated]


# -- delegation and reassignment ---------------------------------------------------------------


def test_a_prosecutor_delegates_to_a_colleague_of_the_same_office(web, domain_engine) -> None:
    iid, guid = start(domain_engine)
    sign_in(web, "tlg.prosecutor")
    form = page(web, f"/tasks/{guid}")
    assert 'value="tlg.prosecutor2"' in form and 'value="kar.prosecutor"' not in form
    outsider = web.post(
        f"/tasks/{guid}/delegate", data={"csrf_token": csrf(form), "assignee": "kar.prosecutor"}
    )
    assert outsider.status_code == 302 and domain_engine.tasks.get(guid).assignee is None
    web.post(
        f"/tasks/{guid}/delegate", data={"csrf_token": csrf(form), "assignee": "tlg.prosecutor2"}
    )
    assert domain_engine.tasks.get(guid).assignee == "tlg.prosecutor2"
    events = [e["event_type"] for e in domain_engine.history.events(iid)]
    assert "task_delegated" in events


def test_only_a_head_reassigns_several_tasks_at_once(web, app, domain_engine) -> None:
    tasks = [start(domain_engine, name=f"Осуждённый {n}")[1] for n in range(3)]
    domain_engine.tasks.claim(tasks[0], actor="tlg.prosecutor")
    sign_in(web, "tlg.prosecutor")
    assert web.get("/queue/team").status_code == 403
    refused = web.post(
        "/tasks/reassign",
        data={
            "csrf_token": csrf(page(web, "/queue")),
            "assignee": "tlg.prosecutor2",
            "task": tasks,
        },
    )
    assert refused.status_code == 403

    head = app.test_client()
    sign_in(head, "tlg.head")
    team = page(head, "/queue/team")
    assert all(f'value="{guid}"' in team for guid in tasks)
    done = head.post(
        "/tasks/reassign",
        data={"csrf_token": csrf(team), "assignee": "tlg.prosecutor2", "task": tasks[:2]},
    )
    assert done.status_code == 302
    assignees = [domain_engine.tasks.get(g).assignee for g in tasks]
    assert assignees == ["tlg.prosecutor2", "tlg.prosecutor2", None]


# -- drafts ------------------------------------------------------------------------------------


def test_a_draft_is_kept_until_the_task_is_completed(web, domain_engine) -> None:
    iid, guid = start(domain_engine)
    sign_in(web, "tlg.prosecutor")
    form = page(web, f"/tasks/{guid}")
    saved = web.post(
        f"/tasks/{guid}",
        data={
            "csrf_token": csrf(form),
            "action": "draft",
            "placement_lawful": "on",
            "findings": "Черновик: проверено постановление",
        },
    )
    assert saved.status_code == 302
    assert domain_engine.tasks.get(guid).state == "ready"  # a draft completes nothing
    back = page(web, f"/tasks/{guid}")  # the page right after saving says "saved" only
    assert "Черновик: проверено постановление</textarea>" in back and 'id="draft-note"' not in back
    assert "Черновик сохранён" in back and 'name="placement_lawful" checked' in back
    back = page(web, f"/tasks/{guid}")  # a later visit says the draft was restored
    assert 'id="draft-note"' in back and "Черновик сохранён" not in back

    done = web.post(
        f"/tasks/{guid}",
        data={
            "csrf_token": csrf(back),
            "action": "complete",
            "placement_lawful": "on",
            "conditions_lawful": "on",
            "findings": "Нарушений нет",
        },
    )
    assert done.status_code == 302 and domain_engine.runtime.get(iid).status == "completed"
    assert web.application.extensions["nadzor.drafts"].get(guid, "tlg.prosecutor") is None


# -- start pages -------------------------------------------------------------------------------


def test_a_prosecutor_opens_a_case_from_the_start_form(web, domain_engine) -> None:
    sign_in(web, "tlg.prosecutor")
    listing = page(web, "/start")
    assert "/start/penalty_room_check" in listing
    form = page(web, "/start/penalty_room_check")
    assert 'value="UK-161-2"' in form and 'value="UK-159-11"' not in form  # only its institutions
    bad = web.post(
        "/start/penalty_room_check", data={"csrf_token": csrf(form), "institution": "UK-161-2"}
    )
    assert bad.status_code == 422 and 'data-field="convict_name"' in bad.get_data(True)
    before = domain_engine.tasks.count(TaskQuery(state=None, limit=1000))
    assert before == 0  # nothing was started by the refused form
    good = web.post(
        "/start/penalty_room_check",
        data={
            "csrf_token": csrf(form),
            "institution": "UK-161-2",
            "convict_name": "Нуров Асхат",
            "placed_at": "2026-11-24T09:30",
            "resolution_number": "12",
            "resolution_date": "2026-11-24",
            "grounds": "Нарушение режима",
            "duration_days": "7",
        },
    )
    assert good.status_code == 302 and "/cases/" in good.headers["Location"]
    iid = int(good.headers["Location"].rsplit("/", 1)[1])
    data = domain_engine.runtime.data(iid)
    assert data["convict_name"] == "Нуров Асхат" and data["placed_at"].startswith(
        "2026-11-24T09:30:00+05:00"
    )
    [task] = domain_engine.tasks.list(TaskQuery(instance_id=iid))
    assert task.office_code == "ALM-TLG" and task.due_at is not None


def test_auditors_and_methodologists_do_not_open_cases(web) -> None:
    sign_in(web, "tlg.auditor")
    assert web.get("/start").status_code == 403
    assert web.get("/start/penalty_room_check").status_code == 403


# -- reminders and breaches --------------------------------------------------------------------


def test_reminders_and_breaches_show_in_the_queue_and_the_case_history(
    web, domain_engine, clock
) -> None:
    iid, guid = start(domain_engine)
    task = domain_engine.tasks.get(guid)
    domain_engine.management.fire_alerts(task.remind_at)
    sign_in(web, "tlg.prosecutor")
    reminders = page(web, "/queue/reminders")
    assert f"№ {iid}" in reminders and "/static/bell.svg" in reminders and "🔔" not in reminders
    history = page(web, f"/cases/{iid}")
    assert 'data-event="task_reminder"' in history and "напоминание о сроке" in history

    domain_engine.management.fire_alerts(task.due_at + timedelta(seconds=1))
    clock.set(task.due_at + timedelta(minutes=5))
    overdue = page(web, "/queue/overdue")
    assert f"№ {iid}" in overdue and "срок нарушен" in overdue
    assert 'data-event="deadline_breached"' in page(web, f"/cases/{iid}")


# -- refusals ----------------------------------------------------------------------------------


def test_a_refusal_is_recorded_in_the_history(web, domain_engine) -> None:
    iid, _ = start(domain_engine)
    sign_in(web, "kar.prosecutor")
    assert web.get(f"/cases/{iid}").status_code == 404  # as if missing, yet recorded
    with domain_engine.db.read() as conn:
        from sqlalchemy import select

        from engine.history import events_table

        rows = (
            conn.execute(
                select(events_table).where(
                    events_table.c.chain == SYSTEM_CHAIN,
                    events_table.c.event_type == "access_denied",
                )
            )
            .mappings()
            .all()
        )
    assert [(r["actor"], r["office_code"], r["data_after"]["path"]) for r in rows] == [
        ("kar.prosecutor", "KRG-KAR", f"/cases/{iid}")
    ]
    assert domain_engine.verify_history()["ok"] is True
