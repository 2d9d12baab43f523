"""The case as a prosecutor's file (web/case_file.py), through the Flask test client: only what
the forms label, values in words (option labels, да/нет, local dates, names instead of codes),
grouped by the step that wrote them; a closed task read-only; the history in words."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from html import unescape

import pytest

from engine.tasks import TaskQuery
from tests.conftest import ROOT
from tests.test_web_queue import csrf, sign_in
from tests.test_web_workspace import PENALTY, page, placement
from web.app import create_app
from workflows.users import UserDirectory

#: what the engine and the domain keep in a penalty-room case that no form labels
ENGINE_KEYS = (
    "institution_remote",
    "regional_office",
    "gp_office",
    "case_id",
    "check_hours",
    "route",
    "review_log",
    "through_gp",
)
RAW_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT")


@pytest.fixture
def app(domain_engine, clock):  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(PENALTY, now=clock.now())
    return create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True})


@pytest.fixture
def web(app):  # type: ignore[no-untyped-def]
    return app.test_client()


def switch(web, locale: str) -> None:  # type: ignore[no-untyped-def]
    token = csrf(page(web, "/queue"))
    web.post("/language", data={"locale": locale, "next": "/queue", "csrf_token": token})


def name(engine, login: str) -> str:  # type: ignore[no-untyped-def]
    return UserDirectory(engine.db).get(login).name


def visible_text(html: str) -> str:
    """The page as a reader sees it: no tags, no attributes, no scripts."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def file_part(html: str) -> str:
    """The case file, deadlines and history: everything below the diagram."""
    return visible_text(html[html.index("<h2") :])


def completed_case(engine, *, lawful: bool) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """A penalty-room case whose check tlg.prosecutor completed (lawful: the case closes)."""
    iid = engine.runtime.start("penalty_room_check", placement(), actor="tlg.prosecutor")
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    engine.tasks.claim(task.task_guid, actor="tlg.prosecutor")
    engine.tasks.complete(
        task.task_guid,
        {
            "placement_lawful": lawful,
            "conditions_lawful": True,
            "findings": "Нарушений не выявлено" if lawful else "Постановление без подписи",
        },
        actor="tlg.prosecutor",
    )
    return iid, task.task_guid


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("ru", ("да", "нет", "24.11.2026", "Прокуратура Талгарского района")),
        ("kk", ("иә", "жоқ", "24.11.2026", "Талғар ауданының прокуратурасы")),
        ("en", ("yes", "no", "24 Nov 2026", "Talgar District Prosecutor's Office")),
    ],
)
def test_the_case_page_is_a_file_in_words_without_engine_data(
    web, domain_engine, locale, words
) -> None:
    iid, _ = completed_case(domain_engine, lawful=False)
    [act] = domain_engine.tasks.list(TaskQuery(instance_id=iid))
    domain_engine.tasks.complete(
        act.task_guid,
        {
            "act_type": "submission",
            "addressee": "ADM-LA-155-2",  # a body of the directory (issue 11)
            "summary": "Устранить нарушение",
        },
        actor="tlg.prosecutor",
    )
    sign_in(web, "tlg.prosecutor")
    switch(web, locale)
    html = page(web, f"/cases/{iid}")
    text = file_part(html)
    for key in ENGINE_KEYS:
        assert key not in text and key.upper() not in text, key
    assert not RAW_INSTANT.search(text), RAW_INSTANT.search(text)
    assert "True" not in text and "False" not in text
    assert "submission" not in text and "UK-161-2" not in text and "ALM-TLG" not in text
    for word in (name(domain_engine, "tlg.prosecutor"), *words):
        assert word in text, word
    # grouped by the step that wrote them: the start form, then each task in order
    kinds = re.findall(r'class="file-step box" data-kind="(\w+)"', html)
    assert kinds[0] == "start" and kinds.count("task") == 2
    # the check deadline is a deadline, not "the check deadline has passed"
    assert "Срок проверки истёк" not in text and "deadline has passed" not in text


def test_option_labels_and_the_act_step_show_in_russian(web, domain_engine) -> None:
    iid, _ = completed_case(domain_engine, lawful=False)
    [act] = domain_engine.tasks.list(TaskQuery(instance_id=iid))
    domain_engine.tasks.complete(
        act.task_guid,
        {
            "act_type": "submission",
            "addressee": "ADM-LA-155-2",  # a body of the directory (issue 11)
            "summary": "Устранить нарушение",
        },
        actor="tlg.prosecutor",
    )
    sign_in(web, "tlg.prosecutor")
    text = file_part(page(web, f"/cases/{iid}"))
    assert "Представление" in text and "Администрация учреждения ЛА-155/2" in text
    assert "Подготовить акт реагирования" in text
    assert "Срок проверки (24 / 48 ч)" in text  # the check deadline's own label


def test_a_finished_task_shows_what_was_submitted_read_only(web, domain_engine) -> None:
    iid, guid = completed_case(domain_engine, lawful=True)
    sign_in(web, "tlg.prosecutor")
    html = page(web, f"/tasks/{guid}")
    text = visible_text(html)
    assert 'id="task-form"' not in html and "<textarea" not in html  # nothing to fill in
    finished = visible_text(html[html.index('id="finished"') :])
    assert f"{name(domain_engine, 'tlg.prosecutor')}, прокурор" in finished
    assert "Нарушений не выявлено" in finished
    assert re.search(r"Водворение законно и обоснованно.*?\bда\b", finished, re.S)
    assert "completed" not in text and "tlg.prosecutor" not in text
    assert "осталось" not in text and "просрочено" not in text  # no countdown on a closed task


def test_a_finished_task_speaks_kazakh(web, domain_engine) -> None:
    iid, guid = completed_case(domain_engine, lawful=True)
    sign_in(web, "tlg.prosecutor")
    switch(web, "kk")
    finished = visible_text(page(web, f"/tasks/{guid}"))
    assert re.search(r"Орналастыру заңды және негізді.*?\bиә\b", finished, re.S)
    assert "Не енгізілді" in finished and "прокурор" in finished


def test_a_task_without_a_deadline_is_not_said_to_meet_it(web, domain_engine) -> None:
    iid, _ = completed_case(domain_engine, lawful=False)  # the act task has no deadline
    sign_in(web, "tlg.prosecutor")
    html = page(web, f"/cases/{iid}")
    deadlines = html[html.index("<table") : html.index("</table>")]
    act_row = next(r for r in deadlines.split("<tr>") if "Подготовить акт реагирования" in r)
    assert "без срока" in act_row and ">да<" not in act_row.replace(" ", "")


def test_the_history_names_people_tasks_and_events(web, domain_engine, clock) -> None:
    iid, _ = completed_case(domain_engine, lawful=False)
    [act] = domain_engine.tasks.list(TaskQuery(instance_id=iid))
    domain_engine.tasks.claim(act.task_guid, actor="tlg.prosecutor")
    domain_engine.tasks.delegate(act.task_guid, "tlg.prosecutor2", actor="tlg.prosecutor")
    sign_in(web, "tlg.prosecutor")
    html = page(web, f"/cases/{iid}")
    history = visible_text(html[html.index('id="history"') :])
    assert name(domain_engine, "tlg.prosecutor") in history and "tlg.prosecutor" not in history
    assert "Проверить законность водворения и условия содержания" in history
    assert "placement_check" not in history
    assert name(domain_engine, "tlg.prosecutor2") in history  # the colleague it was handed to


def test_a_fired_timer_is_the_system_not_a_login(web, domain_engine, clock) -> None:
    iid = domain_engine.runtime.start("penalty_room_check", placement(), actor="tlg.prosecutor")
    [task] = domain_engine.tasks.list(TaskQuery(instance_id=iid))
    domain_engine.management.fire_due(task.due_at + timedelta(minutes=1))
    sign_in(web, "tlg.prosecutor")
    html = page(web, f"/cases/{iid}")
    history = visible_text(html[html.index('id="history"') :])
    assert "Система (таймер)" in history and not re.search(r"\btimer\b", history)


def test_a_methodologist_marks_further_variables_as_shown(domain_engine, clock, tmp_path) -> None:
    folder = tmp_path / "penalty_room_check"
    shutil.copytree(ROOT / "bpmn" / "penalty_room_check", folder)
    shutil.copytree(ROOT / "bpmn" / "act_routing", tmp_path / "act_routing")
    (folder / "shown.form.json").write_text(
        '{"type": "default", "id": "shown", "components": [{"key": "check_hours", '
        '"type": "number", "label": "Срок проверки, часов", "readonly": true, '
        '"properties": {"label_kk": "Тексеру мерзімі, сағат", "label_en": "Hours to check"}}]}',
        encoding="utf-8",
    )
    domain_engine.repository.bpmn_dir = tmp_path
    domain_engine.repository.publish(folder / "penalty_room_check.bpmn", now=clock.now())
    app = create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True})
    web = app.test_client()
    iid = domain_engine.runtime.start("penalty_room_check", placement(), actor="tlg.prosecutor")
    sign_in(web, "tlg.prosecutor")
    switch(web, "en")
    html = page(web, f"/cases/{iid}")
    row = re.search(r'data-key="check_hours"><th>([^<]+)</th><td[^>]*>([^<]+)<', html)
    assert row is not None and row.groups() == ("Hours to check", "24")


def test_a_cancelled_task_says_so_and_offers_no_form(web, domain_engine) -> None:
    from sqlalchemy import update

    from engine.models import HumanTask

    iid = domain_engine.runtime.start("penalty_room_check", placement(), actor="tlg.prosecutor")
    [task] = domain_engine.tasks.list(TaskQuery(instance_id=iid))
    table = HumanTask.__table__
    with domain_engine.db.write() as conn:  # as the engine leaves a task a boundary event ended
        conn.execute(
            update(table).where(table.c.task_guid == task.task_guid).values(state="cancelled")
        )
    sign_in(web, "tlg.prosecutor")
    html = page(web, f"/tasks/{task.task_guid}")
    assert 'id="task-form"' not in html and 'data-state="cancelled"' in html
    text = visible_text(html)
    assert "Задача отменена" in text and "cancelled" not in text


@pytest.mark.parametrize(
    ("locale", "institution", "office"),
    [
        (
            "kk",
            "ЛА-155/2 мекемесі (орташа қауіпсіздік колониясы)",
            "Талғар ауданының прокуратурасы",
        ),
        (
            "en",
            "Institution LA-155/2 (medium-security colony)",
            "Talgar District Prosecutor's Office",
        ),
    ],
)
def test_an_open_task_names_the_institution_and_the_office_in_the_users_language(
    web, domain_engine, locale, institution, office
) -> None:
    """The case keeps the institution's Russian name as a fact: the read-only field of the task
    form and the header named it in Russian (and the office by its code) on a Kazakh page."""
    iid = domain_engine.runtime.start("penalty_room_check", placement(), actor="tlg.prosecutor")
    [task] = domain_engine.tasks.list(TaskQuery(instance_id=iid))
    sign_in(web, "tlg.prosecutor")
    switch(web, locale)
    text = visible_text(page(web, f"/tasks/{task.task_guid}"))
    assert institution in text and office in text
    assert "Учреждение ЛА-155/2" not in text and "ALM-TLG" not in text
