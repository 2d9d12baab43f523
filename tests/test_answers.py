"""The app's answers (issue 8, point 7): protective headers on every response, the app's own
error pages in the user's language (JSON under /api/v1), a body-size limit, bodies that cannot
be parsed answered 400 (never 500), and redirects that stay inside the app."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import abort

from tests.conftest import ROOT
from web import jsonbody
from web.app import MAX_BODY_BYTES, create_app

TEMPLATES = ROOT / "web" / "templates"
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
#: the title of each error page in each language
TITLES = {
    400: {"ru": "Неверный запрос", "kk": "Қате сұрау", "en": "Bad request"},
    403: {"ru": "Доступ запрещён", "kk": "Қол жеткізуге тыйым салынған", "en": "Access denied"},
    404: {"ru": "Не найдено", "kk": "Табылмады", "en": "Not found"},
    405: {"ru": "Метод не разрешён", "kk": "Әдіске рұқсат етілмеген", "en": "Method not allowed"},
    413: {"ru": "Слишком большой запрос", "kk": "Сұрау тым үлкен", "en": "Request too large"},
    429: {"ru": "Слишком много запросов", "kk": "Сұраулар тым көп", "en": "Too many requests"},
    500: {"ru": "Произошла ошибка", "kk": "Қате орын алды", "en": "Something went wrong"},
}
API_CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "too_many_requests",
    500: "internal_error",
}


def _add_test_routes(app):  # type: ignore[no-untyped-def]
    """Routes that answer a given status the way the app's own code does (abort or a crash)."""

    def status(code: int):  # type: ignore[no-untyped-def]
        if code == 500:
            raise RuntimeError("a bug in a view")
        abort(code)

    app.add_url_rule("/test-status/<int:code>", "test_status", status)
    app.add_url_rule("/api/v1/test-status/<int:code>", "api_test_status", status)
    return app


@pytest.fixture
def app(domain_engine):  # type: ignore[no-untyped-def]
    # not TESTING: a crash must reach the app's 500 answer, as it does in production
    return _add_test_routes(create_app({"NADZOR_ENGINE": domain_engine}))


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def token(domain_engine) -> str:  # type: ignore[no-untyped-def]
    from workflows.users import UserDirectory

    return UserDirectory(domain_engine.db).issue_token("tlg.prosecutor")


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def sign_in(client, login: str = "tlg.prosecutor") -> str:  # type: ignore[no-untyped-def]
    token = csrf(client.get("/login").get_data(as_text=True))
    answer = client.post(
        "/login", data={"login": login, "password": "nadzor-demo", "csrf_token": token}
    )
    assert answer.status_code == 302
    return csrf(client.get("/queue").get_data(as_text=True))


def assert_protected(response) -> None:  # type: ignore[no-untyped-def]
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (name, response.request.path)
    policy = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"


# -- headers ------------------------------------------------------------------------------------


def test_every_kind_of_answer_carries_the_protective_headers(client, token) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    answers = [
        client.get("/login"),
        client.get("/static/nadzor.js"),
        client.get("/static/vendor/bpmn-js/bpmn-js.css"),
        client.get("/health"),
        client.get("/api/v1/procedures", headers=bearer),
        client.get("/api/v1/procedures"),  # 401
        client.get("/no/such/page"),
        client.get("/api/v1/no/such/thing", headers=bearer),
        client.get("/test-status/500"),
        client.get("/queue"),  # a redirect to the sign-in page
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 200, 401, 404, 404, 500, 302]
    for answer in answers:
        assert_protected(answer)
    sign_in(client)
    assert_protected(client.get("/queue"))
    assert client.get("/queue").headers["Cache-Control"] == "no-store"


def test_no_template_holds_an_inline_script_or_event_handler() -> None:
    """What the CSP refuses must not be needed: every script is a file under web/static."""
    offenders = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text(encoding="utf-8")
        for match in re.finditer(r"<script\b([^>]*)>", text):
            # a JSON data block is never run (a static script reads it), so the CSP allows it
            data_block = 'type="application/json"' in match.group(1)
            if "src=" not in match.group(1) and not data_block:
                offenders.append(f"{template.name}: inline <script>")
        for match in re.finditer(r"<[^>]*\s(on[a-z]+)\s*=", text):
            offenders.append(f"{template.name}: {match.group(1)}=")
        if "javascript:" in text:
            offenders.append(f"{template.name}: javascript: URL")
    assert offenders == []


def test_the_scripts_the_pages_load_are_served_as_javascript(client) -> None:
    sign_in(client)
    page = client.get("/queue").get_data(as_text=True)
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert "/static/nadzor.js" in scripts
    for src in scripts:
        answer = client.get(src)
        assert answer.status_code == 200 and "javascript" in answer.content_type
    assert "onchange=" not in page and "data-autosubmit" in page
    assert (ROOT / "web" / "static" / "case-diagram.js").is_file()


# -- error pages --------------------------------------------------------------------------------


def error_title(answer) -> str:  # type: ignore[no-untyped-def]
    html = answer.get_data(as_text=True)
    return re.search(r"<h1>(.*?) <small", html, re.S).group(1).strip()


@pytest.mark.parametrize("locale", ["ru", "kk", "en"])
def test_each_error_page_is_the_apps_own_in_the_users_language(client, locale: str) -> None:
    headers = {"Accept-Language": locale}
    for status, titles in TITLES.items():
        answer = client.get(f"/test-status/{status}", headers=headers)
        assert answer.status_code == status
        assert answer.content_type.startswith("text/html")
        assert error_title(answer) == titles[locale], status
        html = answer.get_data(as_text=True)
        assert "<header>" in html and 'id="language-form"' in html  # the normal header
        assert f'lang="{locale}"' in html
        assert "Traceback" not in html and "a bug in a view" not in html


def test_real_errors_answer_with_the_apps_pages(client, app) -> None:
    en = {"Accept-Language": "en"}
    assert error_title(client.get("/no/such/page", headers=en)) == "Not found"
    not_allowed = client.get("/logout", headers=en)  # sign-out is POST only
    assert not_allowed.status_code == 405 and error_title(not_allowed) == "Method not allowed"
    assert "POST" in not_allowed.headers["Allow"]
    no_token = client.post("/login", data={"login": "x", "password": "y"}, headers=en)
    assert no_token.status_code == 400 and error_title(no_token) == "The form has expired"
    csrf_token = sign_in(client)
    # signed in: the page keeps the user's header (Russian, the account's language)
    missing_case = client.get("/cases/99999999")
    assert missing_case.status_code == 404 and error_title(missing_case) == "Не найдено"
    assert "Мои задачи" in missing_case.get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token})
    sign_in(client, "tlg.auditor")
    refused = client.get("/start")
    assert refused.status_code == 403 and error_title(refused) == "Доступ запрещён"


def test_under_the_api_every_error_is_json(client, token) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    for status, code in API_CODES.items():
        answer = client.get(f"/api/v1/test-status/{status}", headers=bearer)
        assert answer.status_code == status
        assert answer.is_json, status
        body = answer.json
        assert set(body) == {"error", "detail", "fields"} and body["error"] == code
        assert body["detail"] and body["fields"] == {}
    missing = client.get("/api/v1/no/such/thing", headers=bearer)
    assert missing.status_code == 404 and missing.json["error"] == "not_found"
    wrong_method = client.delete("/api/v1/procedures", headers=bearer)
    assert wrong_method.status_code == 405 and wrong_method.json["error"] == "method_not_allowed"
    assert "GET" in wrong_method.headers["Allow"]


# -- bodies -------------------------------------------------------------------------------------


def test_a_body_over_one_mib_is_refused_with_413_before_it_is_parsed(
    client, token, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    parsed: list[bytes] = []
    real = jsonbody.parse_json
    monkeypatch.setattr(jsonbody, "parse_json", lambda raw: parsed.append(raw) or real(raw))
    big = json.dumps({"convict_name": "x" * (2 * 1024 * 1024)})
    answer = client.post(
        "/api/v1/procedures/penalty_room_check/instances",
        data=big,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 413
    assert answer.json["error"] == "too_large" and "1 MiB" in answer.json["detail"]
    assert parsed == []
    form = client.post(
        "/login", data={"login": "x" * (2 * 1024 * 1024)}, headers={"Accept-Language": "en"}
    )
    assert form.status_code == 413 and error_title(form) == "Request too large"
    assert MAX_BODY_BYTES == 1024 * 1024


def start_raw(client, token: str, raw: str | bytes):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/procedures/penalty_room_check/instances",
        data=raw,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def case_count(domain_engine) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from engine.models import ProcessInstance

    with domain_engine.db.read() as conn:
        return conn.execute(select(func.count()).select_from(ProcessInstance)).scalar_one()


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ('{"a": ' + "[" * 5000 + "]" * 5000 + "}", "nested too deeply"),
        ('{"convict_name": "\\ud800"}', "lone surrogate"),
        ('{"convict_name": {"\\udfff": 1}}', "lone surrogate"),
        (b'{"convict_name": "\xff\xfe"}', "not UTF-8"),
        ('{"convict_name": ', "not valid JSON"),
        ('{"n": ' + "9" * 5000 + "}", "not valid JSON"),
    ],
)
def test_a_body_that_cannot_be_parsed_is_400_never_500(
    client, token, domain_engine, raw, words
) -> None:  # type: ignore[no-untyped-def]
    answer = start_raw(client, token, raw)
    assert answer.status_code == 400
    assert answer.json["error"] == "bad_request" and words in answer.json["detail"]
    assert case_count(domain_engine) == 0


def test_a_surrogate_pair_is_a_character_not_an_error() -> None:
    assert jsonbody.parse_json(b'{"a": "\\ud83d\\ude00"}') == {"a": "😀"}


# -- redirects ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",
        "/\\/evil.example",
        "/\t/evil.example",
        "https://evil.example/queue",
        "javascript:alert(1)",
        "evil.example",
        "/no/such/page",
    ],
)
def test_choosing_a_language_never_redirects_outside_the_app(client, target: str) -> None:
    token = csrf(client.get("/login").get_data(as_text=True))
    answer = client.post("/language", data={"locale": "kk", "next": target, "csrf_token": token})
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"


def test_choosing_a_language_returns_to_the_page_it_was_chosen_on(client) -> None:
    token = csrf(client.get("/login").get_data(as_text=True))
    answer = client.post(
        "/language", data={"locale": "en", "next": "/login?x=1", "csrf_token": token}
    )
    assert answer.headers["Location"] == "/login?x=1"


def test_going_back_after_an_action_stays_inside_the_app(app) -> None:
    from web.tasks_ui import safe_next

    with app.test_request_context():
        assert safe_next("http://127.0.0.1:5000/queue/mine?page=2") == "/queue/mine?page=2"
        for referrer in ("http://x/\\evil.example", "http://x//evil.example", None, "evil"):
            assert safe_next(referrer) == "/"


def test_the_error_pages_exist_as_templates() -> None:
    assert (TEMPLATES / "errors" / "error.html").is_file()
    assert '{% extends "base.html" %}' in Path(TEMPLATES / "errors" / "error.html").read_text()
