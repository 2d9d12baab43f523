"""Signing in and working the office queue in the server-rendered UI."""

from __future__ import annotations

import re

import pytest

from engine.tasks import TaskQuery
from tests.conftest import BENCH_MODEL
from web.app import create_app

PAYLOAD = {
    "institution": "UK-161-2",
    "convict_name": "Петров",
    "remote": False,
    "placed_at": "2026-11-24T09:30:00+05:00",
}


@pytest.fixture
def web(domain_engine, clock):  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(BENCH_MODEL, now=clock.now())
    app = create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True})
    return app.test_client()


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def sign_in(client, login: str, password: str = "nadzor-demo"):  # type: ignore[no-untyped-def]
    token = csrf(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"login": login, "password": password, "csrf_token": token})


def test_pages_need_a_signed_in_user(web) -> None:
    response = web.get("/queue")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_form_without_its_csrf_token_is_refused(web) -> None:
    response = web.post("/login", data={"login": "tlg.prosecutor", "password": "nadzor-demo"})
    assert response.status_code == 400


def test_a_wrong_password_is_told_and_repeated_failures_are_throttled(web) -> None:
    response = sign_in(web, "tlg.prosecutor", "wrong")
    assert response.status_code == 401 and "Неверный логин или пароль" in response.get_data(True)
    for _ in range(5):
        sign_in(web, "tlg.prosecutor", "wrong")
    blocked = sign_in(web, "tlg.prosecutor")  # even the right password waits now
    assert blocked.status_code == 429


def test_the_office_queue_shows_the_check_with_its_deadline_and_claims_it(
    web, domain_engine
) -> None:
    iid = domain_engine.runtime.start("bench_penalty_check", PAYLOAD, actor="tlg.prosecutor")
    assert sign_in(web, "tlg.prosecutor").status_code == 302
    page = web.get("/queue").get_data(as_text=True)
    assert "Check the placement" in page and f"№ {iid}" in page
    assert "25.11.2026, 09:30" in page  # the deadline in Almaty time, Russian format
    assert "осталось 23 ч 30 мин" in page
    task = domain_engine.tasks.list(TaskQuery(instance_id=iid))[0]
    response = web.post(f"/tasks/{task.task_guid}/claim", data={"csrf_token": csrf(page)})
    assert response.status_code == 302
    assert domain_engine.tasks.get(task.task_guid).assignee == "tlg.prosecutor"
    mine = web.get("/queue/mine").get_data(as_text=True)
    assert "Check the placement" in mine


def test_another_office_neither_sees_nor_claims_the_task(web, domain_engine) -> None:
    iid = domain_engine.runtime.start("bench_penalty_check", PAYLOAD, actor="tlg.prosecutor")
    sign_in(web, "kar.prosecutor")
    page = web.get("/queue").get_data(as_text=True)
    assert f"№ {iid}" not in page
    task = domain_engine.tasks.list(TaskQuery(instance_id=iid))[0]
    response = web.post(f"/tasks/{task.task_guid}/claim", data={"csrf_token": csrf(page)})
    assert response.status_code == 404  # outside the scope: as if it did not exist
    assert domain_engine.tasks.get(task.task_guid).assignee is None


PENALTY = {
    "institution": "UK-161-2",
    "convict_name": "Серикбаев Нурлан",
    "placed_at": "2026-11-24T09:30:00+05:00",
    "resolution_number": "ДИЗО-1",
    "resolution_date": "2026-11-24",
    "grounds": "Нарушение распорядка",
    "duration_days": 10,
}


def test_the_check_form_refuses_a_missing_field_then_completes(web, domain_engine, clock) -> None:
    from tests.conftest import BPMN_DIR

    domain_engine.repository.publish(
        BPMN_DIR / "penalty_room_check" / "penalty_room_check.bpmn", now=clock.now()
    )
    iid = domain_engine.runtime.start("penalty_room_check", PENALTY, actor="tlg.prosecutor")
    [task] = domain_engine.tasks.list(TaskQuery(instance_id=iid))
    sign_in(web, "tlg.prosecutor")
    page = web.get(f"/tasks/{task.task_guid}").get_data(as_text=True)
    assert "Серикбаев Нурлан" in page and 'name="findings"' in page

    missing = web.post(
        f"/tasks/{task.task_guid}",
        data={
            "csrf_token": csrf(page),
            "placement_lawful": "on",
            "conditions_lawful": "on",
        },
    )
    assert missing.status_code == 422
    assert 'data-field="findings">Обязательное поле.' in missing.get_data(as_text=True)
    assert domain_engine.tasks.get(task.task_guid).state == "ready"

    done = web.post(
        f"/tasks/{task.task_guid}",
        data={
            "csrf_token": csrf(page),
            "placement_lawful": "on",
            "conditions_lawful": "on",
            "findings": "Нарушений нет",
        },
    )
    assert done.status_code == 302
    assert domain_engine.runtime.get(iid).status == "completed"
    assert domain_engine.runtime.data(iid)["findings"] == "Нарушений нет"

    again = web.post(
        f"/tasks/{task.task_guid}",
        data={
            "csrf_token": csrf(page),
            "findings": "Повторно",
        },
    )
    assert again.status_code == 409
    assert "уже выполнил tlg.prosecutor; ваши данные не сохранены" in again.get_data(True)


def test_the_case_page_shows_the_path_the_history_and_serves_the_diagram(
    web, domain_engine
) -> None:
    iid = domain_engine.runtime.start("bench_penalty_check", PAYLOAD, actor="tlg.prosecutor")
    sign_in(web, "tlg.prosecutor")
    page = web.get(f"/cases/{iid}").get_data(as_text=True)
    assert f"Дело № {iid}" in page and 'data-event="instance_started"' in page
    assert "дело заведено" in page
    assert '"start"' in page and '["check"]' in page  # completed path and the current task
    assert "vendor/bpmn-js/bpmn-navigated-viewer.production.min.js" in page
    diagram = web.get(f"/cases/{iid}/diagram.bpmn")
    assert diagram.status_code == 200 and b'process id="bench_penalty_check"' in diagram.data
    web.post("/logout", data={"csrf_token": csrf(page)})
    sign_in(web, "kar.prosecutor")
    assert web.get(f"/cases/{iid}").status_code == 404  # outside the scope: as if missing
    assert web.get(f"/cases/{iid}/diagram.bpmn").status_code == 404
