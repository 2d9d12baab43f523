"""The Procedures area (web/procedures_ui.py) as a methodologist reads it: the procedures with
their versions, a version's diagram, forms and decision tables in words, its files, two versions
compared, and who may enter (methodologists and admins; prosecutors and auditors are refused).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.config import Settings
from tests.conftest import BPMN_DIR
from tests.test_proc_penalty_room_check import place
from tests.test_web_queue import csrf, sign_in
from web.app import create_app
from workflows.demo import seed_organization
from workflows.runtime import build_engine

MAIN = "penalty_room_check/penalty_room_check.bpmn"
OLD_NAME = "Проверить законность водворения и условия содержания"
NEW_NAME = "Проверить водворение в течение 12 часов"


def publish(engine: Any, folder: Path, actor: str) -> Any:
    loaded, _created = engine.repository.publish(
        folder / f"{folder.name}.bpmn", actor=actor, now=engine.clock.now()
    )
    return loaded


@pytest.fixture
def site(database_url: str, clock, tmp_path: Path) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """penalty_room_check v1 and v2 (the check renamed, its 24 h made 12 h), act_routing v1
    and v2 (so penalty_room_check v2's frozen copy of it is outdated), a case running on v2."""
    models = tmp_path / "bpmn"
    shutil.copytree(BPMN_DIR, models)
    settings = Settings(database_url=database_url, secret_key="test", bpmn_dir=models)
    engine = build_engine(settings, clock=clock)
    seed_organization(engine)
    publish(engine, models / "act_routing", "tlg.methodologist")
    publish(engine, models / "penalty_room_check", "tlg.methodologist")
    main = models / MAIN
    main.write_text(
        main.read_text(encoding="utf-8")
        .replace("check_hours_near = 24\n", "check_hours_near = 12\n")
        .replace(f'name="{OLD_NAME}"', f'name="{NEW_NAME}"'),
        encoding="utf-8",
    )
    form = models / "penalty_room_check" / "start.form.json"
    form.write_text(
        form.read_text(encoding="utf-8").replace(
            '"label": "Учреждение"', '"label": "Учреждение (полное название)"'
        ),
        encoding="utf-8",
    )
    publish(engine, models / "penalty_room_check", "gp.methodologist")
    place(engine)
    route = models / "act_routing" / "route.dmn"
    route.write_text(
        route.read_text(encoding="utf-8").replace(
            '<outputEntry id="r6_gp"><text>False</text>',
            '<outputEntry id="r6_gp"><text>True</text>',
        ),
        encoding="utf-8",
    )
    publish(engine, models / "act_routing", "gp.methodologist")
    app = create_app({"NADZOR_ENGINE": engine, "TESTING": True})
    yield {"app": app, "engine": engine}
    engine.db.dispose()


def client(site: dict[str, Any], login: str, locale: str = "ru") -> Any:
    web = site["app"].test_client()
    assert sign_in(web, login).status_code == 302
    if locale != "ru":
        token = csrf(web.get("/procedures/").get_data(as_text=True))
        web.post("/language", data={"locale": locale, "csrf_token": token, "next": "/"})
    return web


def text(response: Any) -> str:
    return response.get_data(as_text=True)


PAGES = (
    "/procedures/",
    "/procedures/penalty_room_check",
    "/procedures/penalty_room_check/v2",
    "/procedures/penalty_room_check/diff?a=1&b=2",
    "/procedures/penalty_room_check/v1/download",
    f"/procedures/penalty_room_check/v1/files/{MAIN}",
)


def test_methodologists_and_admins_enter_prosecutors_and_auditors_are_refused(site) -> None:
    for login in ("tlg.methodologist", "gp.admin"):
        web = client(site, login)
        for page in PAGES:
            assert web.get(page).status_code == 200, (login, page)
    for login in ("tlg.prosecutor", "gp.auditor", "tlg.head"):
        web = client(site, login)
        for page in PAGES:
            response = web.get(page)
            assert response.status_code == 403, (login, page)
        assert "методолог" in text(web.get("/procedures/"))  # the refusal in words
    anonymous = site["app"].test_client().get("/procedures/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_the_nav_link_and_the_landing_page_follow_the_same_rule(site) -> None:
    web = site["app"].test_client()
    landed = sign_in(web, "tlg.methodologist")
    assert landed.headers["Location"].endswith("/procedures/")
    assert web.get("/").headers["Location"].endswith("/procedures/")
    assert 'id="nav-procedures"' in text(web.get("/procedures/"))
    prosecutor = client(site, "tlg.prosecutor")
    assert 'id="nav-procedures"' not in text(prosecutor.get("/queue"))


def test_the_list_names_each_procedure_its_versions_cases_and_outdated_callers(site) -> None:
    page = text(client(site, "tlg.methodologist").get("/procedures/"))
    row = re.search(r'<tr data-process="penalty_room_check">(.*?)</tr>', page, re.S).group(1)
    assert "Проверка водворения в ШИЗО / ПКТ" in row
    assert "v2" in row and "<td>2</td>" in row and "<td>1</td>" in row  # 2 versions, 1 case
    routing = re.search(r'<tr data-process="act_routing">(.*?)</tr>', page, re.S).group(1)
    assert "Проверка водворения в ШИЗО / ПКТ" in routing  # called by
    assert "outdated" in routing
    # penalty_room_check v2 froze act_routing v1 in; act_routing is at v2 now
    assert "v2 включает «Направление актов прокурорского надзора" in routing
    assert "(п. 12, 14)» v1; опубликуйте" in routing
    assert "опубликуйте «Проверка водворения" in routing and "использовала v2" in routing
    penalty = re.search(r'<tr data-process="penalty_room_check">(.*?)</tr>', page, re.S).group(1)
    assert "outdated" not in penalty
    english = text(client(site, "tlg.methodologist", "en").get("/procedures/"))
    assert "Penalty-room placement check (¶11.6, ¶13.9, ¶13.12)" in english
    assert re.search(r"v2 includes .+ v1; publish Penalty-room placement check", english)


def test_the_versions_table_names_people_and_times_and_offers_a_comparison(site) -> None:
    web = client(site, "tlg.methodologist")
    page = text(web.get("/procedures/penalty_room_check"))
    users = site["app"].extensions["nadzor.users"]
    for login in ("tlg.methodologist", "gp.methodologist"):
        assert users.get(login).name in page
        assert f"<td>{login}</td>" not in page
    assert "24.11.2026, 10:00" in page  # Almaty time of the fake clock
    v2 = re.search(r'<tr data-version="2">(.*?)</tr>', page, re.S).group(1)
    assert "<td>1</td>" in v2  # the running case
    sha = site["engine"].repository.list()
    assert any(r["sha256"][:12] in page for r in sha)
    assert 'name="a" value="1" checked' in page and 'name="b" value="2" checked' in page


def test_a_version_shows_its_forms_decisions_and_steps_in_words(site) -> None:
    web = client(site, "tlg.methodologist")
    page = text(web.get("/procedures/penalty_room_check/v1"))
    assert OLD_NAME in page or "Проверить водворение и условия содержания" in page
    start = re.search(r'data-file="penalty_room_check/start.form.json">(.*?)</section>', page, re.S)
    form = start.group(1)
    institution = re.search(r'<tr data-key="institution">(.*?)</tr>', form, re.S).group(1)
    assert "Учреждение" in institution and "да" in institution and "текст" in institution
    status = re.search(r'<tr data-key="person_status">(.*?)</tr>', form, re.S).group(1)
    assert "Осуждённый; Подозреваемый; Обвиняемый" in status
    # the called procedure's decision table travels with the version
    assert "Уровень прокуратуры-инициатора" in page and "П. 14: через прокуратуру области" in page
    assert 'id="diagram-data-main"' in page and "application/json" in page
    data = json.loads(
        re.search(
            r'<script type="application/json" id="diagram-data-main">(.*?)</script>', page, re.S
        ).group(1)
    )
    assert "<bpmn:definitions" in data["xml"]
    assert "/procedures/penalty_room_check/v1/draft" in page and 'name="csrf_token"' in page
    assert "/procedures/penalty_room_check/migrate" in page
    step = re.search(r'<tr data-element="route_act">(.*?)</tr>', page, re.S).group(1)
    assert ">Направление актов прокурорского надзора и реагирования (п. 12, 14)</a>" in step
    english = text(client(site, "tlg.methodologist", "en").get("/procedures/penalty_room_check/v1"))
    assert "Institution" in english and "yes" in english
    assert "Check the placement and the conditions" in english


def test_download_gives_the_version_files_under_their_names(site) -> None:
    web = client(site, "tlg.methodologist")
    response = web.get("/procedures/penalty_room_check/v2/download")
    assert response.headers["Content-Type"] == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    definition = site["engine"].repository.list()
    files = (
        site["engine"]
        .repository.get(
            next(
                r["id"]
                for r in definition
                if r["process_id"] == "penalty_room_check" and r["version"] == 2
            )
        )
        .files
    )
    assert sorted(archive.namelist()) == sorted(files)
    assert archive.read(MAIN).decode() == files[MAIN]
    one = web.get(f"/procedures/penalty_room_check/v2/files/{MAIN}")
    assert one.headers["Content-Disposition"].startswith("attachment")
    assert "penalty_room_check.bpmn" in one.headers["Content-Disposition"]
    assert one.get_data(as_text=True) == files[MAIN]
    assert web.get("/procedures/penalty_room_check/v2/files/nothing.bpmn").status_code == 404
    assert web.get("/procedures/penalty_room_check/v9").status_code == 404
    assert web.get("/procedures/no_such_thing").status_code == 404
    assert web.get("/procedures/%3Cscript%3E").status_code == 404


def test_the_diff_lists_the_rename_and_the_hours_in_words_and_marks_the_diagrams(site) -> None:
    web = client(site, "tlg.methodologist")
    page = text(web.get("/procedures/penalty_room_check/diff?a=1&b=2"))
    changes = re.search(r'<ol id="element-changes".*?</ol>', page, re.S).group(0)
    check = re.search(r'data-element="placement_check".*?</li>', changes, re.S).group(0)
    assert "Проверить водворение и условия содержания" in check  # its drawn Russian name
    assert OLD_NAME in check and NEW_NAME in check and "Название" in check
    params = re.search(r'data-element="parameters".*?</li>', changes, re.S).group(0)
    assert "Параметры процедуры" in params and "check_hours_near = 12" in params
    assert "Скрипт" in params
    assert "<strong>placement_check</strong>" not in changes  # names, not ids
    blocks = dict(
        re.findall(
            r'<script type="application/json" id="diagram-data-(a|b)">(.*?)</script>', page, re.S
        )
    )
    a, b = json.loads(blocks["a"]), json.loads(blocks["b"])
    assert sorted(a["marks"]["changed"]) == sorted(b["marks"]["changed"])
    assert "placement_check" in b["marks"]["changed"] and b["marks"]["added"] == []
    assert "added" not in a["marks"] and "removed" not in b["marks"]
    forms = re.search(r'<ol id="form-changes".*?</ol>', page, re.S).group(0)
    assert "Учреждение (полное название)" in forms and "Подпись" in forms  # the field's label
    assert "penalty_room_check/start.form.json" in forms
    routing = text(web.get("/procedures/act_routing/diff?a=1&b=2"))
    rules = re.search(r'<ol id="decision-changes".*?</ol>', routing, re.S).group(0)
    assert "<strong>Маршрут акта (п. 12, 14 Инструкции № 104)</strong>, правило 6" in rules
    assert "Результат «Через Генеральную прокуратуру»" in rules
    assert '<td class="before">нет</td>' in rules and '<td class="after">да</td>' in rules
    same = text(web.get("/procedures/penalty_room_check/diff?a=2&b=2"))
    assert 'id="no-changes"' in same
    default = text(web.get("/procedures/penalty_room_check/diff"))  # the last two versions
    assert 'data-element="placement_check"' in default and "v1" in default
    assert web.get("/procedures/penalty_room_check/diff?a=1&b=7").status_code == 400
    assert web.get("/procedures/penalty_room_check/diff?a=x&b=2").status_code == 400
