"""Files attached to a case (issue 11): stored in the step with their SHA-256, referenced in the
case data and its hash-chained history, size-limited, downloadable within the case's scope, and
refused when their stored content was changed."""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from engine.attachments import (
    MAX_FILE_BYTES,
    MAX_FILES,
    AttachmentDamaged,
    attachment_table,
    attachments_of,
    read_attachment,
)
from engine.errors import ScriptFailed, ValidationFailed
from engine.tasks import TaskQuery
from tests.conftest import FIXTURES

MODEL = FIXTURES / "attachments" / "attach_files.bpmn"
START = {"institution": "UK-161-2"}  # district office ALM-TLG
PDF = b"%PDF-1.4\n% conclusion of the special check\n"


def upload(name: str, content: bytes, content_type: str = "application/pdf") -> dict[str, str]:
    return {
        "name": name,
        "content_type": content_type,
        "content_base64": base64.b64encode(content).decode(),
    }


@pytest.fixture
def engine(domain_engine, clock):  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(MODEL, now=clock.now())
    return domain_engine


def started(engine, data: dict[str, Any] | None = None) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    iid = engine.runtime.start("attach_files", {**START, **(data or {})}, actor="tlg.prosecutor")
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    return iid, task.task_guid


def stored_count(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.db.read() as conn:
        return conn.execute(select(func.count()).select_from(attachment_table)).scalar_one()


# -- the engine ---------------------------------------------------------------------------------


def test_files_are_stored_with_sha256_and_referenced_in_the_history(engine) -> None:  # type: ignore[no-untyped-def]
    iid, guid = started(engine)
    photo = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    engine.tasks.complete(
        guid,
        {
            "note": "ok",
            "materials": [upload("заключение.pdf", PDF), upload("photo.png", photo, "")],
        },
        actor="tlg.prosecutor",
    )
    with engine.db.read() as conn:
        files = attachments_of(conn, iid)
        assert [(f.name, f.size, f.task_name, f.field) for f in files] == [
            ("photo.png", len(photo), "attach", "materials"),
            ("заключение.pdf", len(PDF), "attach", "materials"),
        ]
        by_name = {f.name: f for f in files}
        assert by_name["заключение.pdf"].sha256 == hashlib.sha256(PDF).hexdigest()
        assert by_name["photo.png"].content_type == "application/octet-stream"
        assert by_name["заключение.pdf"].uploaded_by == "tlg.prosecutor"
        stored = read_attachment(conn, iid, by_name["заключение.pdf"].attachment_id)
        assert stored.content == PDF
    [completed] = [e for e in engine.history.events(iid) if e["event_type"] == "task_completed"]
    refs = completed["data_after"]["materials"]
    assert {r["name"]: r["sha256"] for r in refs} == {n: f.sha256 for n, f in by_name.items()}
    assert all(set(r) == {"attachment_id", "name", "content_type", "size", "sha256"} for r in refs)
    assert "content_base64" not in str(completed["data_after"])  # no bytes in case data
    assert engine.runtime.data(iid)["materials"] == refs  # the case data holds refs only
    assert engine.verify_history()["ok"] is True


def test_files_of_the_start_form_go_with_the_start(engine) -> None:  # type: ignore[no-untyped-def]
    # one object for a list of one; a path sent with the name is not kept
    iid, _ = started(engine, {"report_files": upload("scans/report.txt", b"report", "text/plain")})
    with engine.db.read() as conn:
        [info] = attachments_of(conn, iid)
    assert (info.name, info.task_guid, info.field) == ("report.txt", None, "report_files")
    [event] = [e for e in engine.history.events(iid) if e["event_type"] == "instance_started"]
    assert event["data_after"]["data"]["report_files"][0]["sha256"] == info.sha256


@pytest.mark.parametrize(
    ("value", "code", "words"),
    [
        (None, "file_required", "attach at least one file"),
        ([], "file_required", "attach at least one file"),
        (
            [{"name": "a.pdf", "content_type": "application/pdf", "content_base64": "%%%"}],
            "bad_base64",
            "is not valid base64",
        ),
        (
            [upload(f"{i}.txt", b"x", "text/plain") for i in range(MAX_FILES + 1)],
            "too_many_files",
            f"at most {MAX_FILES} files",
        ),
        (
            [upload("big.bin", b"\0" * (MAX_FILE_BYTES + 1), "application/octet-stream")],
            "file_too_large",
            "is larger than 10.0 MB",
        ),
        (
            [upload(f"{i}.bin", b"\0" * (MAX_FILE_BYTES - 1)) for i in range(3)],
            "files_too_large",
            "together may have at most 20.0 MB",
        ),
        ([upload("", b"x")], "file_name_missing", "every file needs a name"),
        ([upload("x" * 300 + ".pdf", b"x")], "file_name_too_long", "at most 255 characters"),
        ([upload("a.pdf", b"x", "not a type")], "file_type_invalid", "media type"),
        ("text", "not_files", "must be a list of files"),
    ],
)
def test_bad_uploads_are_refused_in_words_and_nothing_is_stored(
    engine, value: Any, code: str, words: str
) -> None:  # type: ignore[no-untyped-def]
    iid, guid = started(engine)
    with pytest.raises(ValidationFailed) as refused:
        engine.tasks.complete(guid, {"materials": value}, actor="tlg.prosecutor")
    problem = refused.value.fields["materials"]
    assert problem.code == code
    assert words in problem.message
    assert stored_count(engine) == 0
    assert engine.tasks.get(guid).state == "ready"


def test_one_file_where_the_field_takes_one(engine) -> None:  # type: ignore[no-untyped-def]
    _, guid = started(engine)
    with pytest.raises(ValidationFailed) as refused:
        engine.tasks.complete(
            guid,
            {"materials": [upload("a.pdf", PDF)], "conclusion": [upload("a.pdf", PDF)] * 2},
            actor="tlg.prosecutor",
        )
    assert refused.value.fields["conclusion"].message == "only one file may be attached here"
    assert stored_count(engine) == 0


def test_a_failing_step_leaves_no_file(engine) -> None:  # type: ignore[no-untyped-def]
    iid, guid = started(engine)
    with pytest.raises(ScriptFailed):
        engine.tasks.complete(
            guid, {"materials": [upload("fail.pdf", PDF)]}, actor="tlg.prosecutor"
        )
    assert stored_count(engine) == 0
    assert engine.tasks.get(guid).state == "ready"


def test_changed_content_is_reported_not_served(engine) -> None:  # type: ignore[no-untyped-def]
    iid, guid = started(engine)
    engine.tasks.complete(guid, {"materials": [upload("a.pdf", PDF)]}, actor="tlg.prosecutor")
    with engine.db.read() as conn:
        [info] = attachments_of(conn, iid)
    with engine.db.write() as conn:
        conn.execute(
            update(attachment_table)
            .where(attachment_table.c.id == info.attachment_id)
            .values(content=PDF.replace(b"special", b"ordinary"))
        )
    with engine.db.read() as conn, pytest.raises(AttachmentDamaged) as damaged:
        read_attachment(conn, iid, info.attachment_id)
    assert "no longer matches the SHA-256" in str(damaged.value)


def test_a_file_is_read_only_through_its_own_case(engine) -> None:  # type: ignore[no-untyped-def]
    from engine.errors import NotFound

    iid, guid = started(engine)
    other, _ = started(engine)
    engine.tasks.complete(guid, {"materials": [upload("a.pdf", PDF)]}, actor="tlg.prosecutor")
    with engine.db.read() as conn:
        [info] = attachments_of(conn, iid)
        with pytest.raises(NotFound):
            read_attachment(conn, other, info.attachment_id)
        with pytest.raises(NotFound):
            read_attachment(conn, iid, "../../etc/passwd")


# -- the doors: REST API and pages --------------------------------------------------------------


@pytest.fixture
def app(engine):  # type: ignore[no-untyped-def]
    from web.app import create_app

    return create_app({"NADZOR_ENGINE": engine, "TESTING": True})


@pytest.fixture
def api(app, engine):  # type: ignore[no-untyped-def]
    from workflows.users import UserDirectory

    client = app.test_client()
    users = UserDirectory(engine.db)
    tokens: dict[str, str] = {}

    def call(method: str, path: str, login: str = "tlg.prosecutor", **kwargs: Any):  # type: ignore[no-untyped-def]
        if login not in tokens:
            tokens[login] = users.issue_token(login)
        headers = {"Authorization": f"Bearer {tokens[login]}", "Accept-Language": "en"}
        return client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    return call


def page(client, login: str):  # type: ignore[no-untyped-def]
    from tests.test_web_queue import sign_in

    sign_in(client, login)
    return client


def test_the_api_takes_files_as_base64_and_gives_them_back(engine, api) -> None:  # type: ignore[no-untyped-def]
    started_case = api(
        "POST",
        "/procedures/attach_files/instances",
        json={**START, "report_files": [upload("сообщение.txt", "текст".encode(), "text/plain")]},
    )
    assert started_case.status_code == 201, started_case.json
    iid = started_case.json["id"]
    [report] = started_case.json["data"]["report_files"]
    assert report["sha256"] == hashlib.sha256("текст".encode()).hexdigest()
    [task] = started_case.json["tasks"]
    done = api(
        "POST", f"/tasks/{task['id']}/complete", json={"data": {"materials": upload("a.pdf", PDF)}}
    )
    assert done.status_code == 200, done.json
    [ref] = done.json["data"]["materials"]
    assert ref["size"] == len(PDF) and ref["name"] == "a.pdf"

    got = api("GET", f"/cases/{iid}/attachments/{ref['attachment_id']}")
    assert got.status_code == 200 and got.data == PDF
    assert got.headers["Content-Type"] == "application/pdf"
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["X-Content-SHA256"] == ref["sha256"]
    cyrillic = api("GET", f"/cases/{iid}/attachments/{report['attachment_id']}")
    assert "filename*=UTF-8''%D1%81%D0%BE%D0%BE" in cyrillic.headers["Content-Disposition"]
    # another office's prosecutor: the case does not exist for them
    assert (
        api("GET", f"/cases/{iid}/attachments/{ref['attachment_id']}", "kar.prosecutor").status_code
        == 404
    )  # noqa: E501
    assert api("GET", f"/cases/{iid}/attachments/not-an-id").status_code == 404
    history = api("GET", f"/instances/{iid}/history").json
    completed = [e for e in history if e["event_type"] == "task_completed"]
    assert completed[0]["data_after"]["materials"][0]["sha256"] == ref["sha256"]


def test_the_api_refuses_bad_files_in_words(engine, api) -> None:  # type: ignore[no-untyped-def]
    _, guid = started(engine)
    big = upload("big.bin", b"\0" * (MAX_FILE_BYTES + 1))
    refused = api("POST", f"/tasks/{guid}/complete", json={"data": {"materials": [big]}})
    assert refused.status_code == 422
    # in the user's language (Russian for the demo users), as the page says it
    assert refused.json["fields"]["materials"] == (
        "Файл «big.bin» больше 10 МБ — предельного размера одного файла."
    )
    assert refused.json["problems"]["materials"]["code"] == "file_too_large"
    bad = api(
        "POST",
        f"/tasks/{guid}/complete",
        json={"data": {"materials": [{"name": "a.pdf", "content_base64": "@@"}]}},
    )
    assert bad.json["fields"]["materials"] == "Содержимое файла «a.pdf» — не корректный base64."
    assert stored_count(engine) == 0


def test_a_body_over_the_file_limit_is_413_in_words(engine, api, app) -> None:  # type: ignore[no-untyped-def]
    from web.app import FILE_BODY_BYTES

    _, guid = started(engine)
    too_big = b'{"data": {"materials": "' + b"A" * FILE_BODY_BYTES + b'"}}'
    answer = api("POST", f"/tasks/{guid}/complete", data=too_big, content_type="application/json")
    assert answer.status_code == 413 and "30 MiB" in answer.json["detail"]
    # under the limit, an oversized file is refused by the form's rule, in words
    over = upload("big.bin", b"\0" * (MAX_FILE_BYTES + 1))
    refused = api("POST", f"/tasks/{guid}/complete", json={"data": {"materials": [over]}})
    assert refused.status_code == 422
    # a step whose form has no file field keeps the 1 MiB limit
    engine.tasks.complete(guid, {"materials": [upload("a.pdf", PDF)]}, actor="tlg.prosecutor")
    [review] = engine.tasks.list(TaskQuery(instance_id=engine.tasks.get(guid).instance_id))
    body = b'{"data": {"note": "' + b"x" * (2 * 1024 * 1024) + b'"}}'
    big = api(
        "POST", f"/tasks/{review.task_guid}/complete", data=body, content_type="application/json"
    )
    assert big.status_code == 413 and big.json["error"] == "too_large"
    # and the page says it in words
    from tests.test_web_queue import csrf

    client = page(app.test_client(), "tlg.prosecutor")
    _, other = started(engine)
    form = client.get(f"/tasks/{other}").get_data(as_text=True)
    huge = client.post(
        f"/tasks/{other}",
        data={
            "csrf_token": csrf(form),
            "action": "complete",
            "materials": (io.BytesIO(b"\0" * (FILE_BODY_BYTES + 1)), "scan.tiff"),
        },
        content_type="multipart/form-data",
    )
    assert huge.status_code == 413
    assert "больше 30 МиБ" in huge.get_data(as_text=True)
    assert stored_count(engine) == 1  # the one file of the first step


def test_the_case_is_read_through_the_case_scope_only(engine, api) -> None:  # type: ignore[no-untyped-def]
    iid, guid = started(engine)
    engine.tasks.complete(guid, {"materials": [upload("a.pdf", PDF)]}, actor="tlg.prosecutor")
    other, _ = started(engine)
    with engine.db.read() as conn:
        [info] = attachments_of(conn, iid)
    # the file of case iid asked for under another case (in scope) is missing all the same
    assert api("GET", f"/cases/{other}/attachments/{info.attachment_id}").status_code == 404


def test_a_changed_file_is_refused_through_api_and_page(engine, api, app) -> None:  # type: ignore[no-untyped-def]
    iid, guid = started(engine)
    engine.tasks.complete(guid, {"materials": [upload("a.pdf", PDF)]}, actor="tlg.prosecutor")
    with engine.db.read() as conn:
        [info] = attachments_of(conn, iid)
    with engine.db.write() as conn:
        conn.execute(
            update(attachment_table)
            .where(attachment_table.c.id == info.attachment_id)
            .values(content=b"forged")
        )
    answer = api("GET", f"/cases/{iid}/attachments/{info.attachment_id}")
    assert answer.status_code == 409 and answer.json["error"] == "attachment_damaged"
    assert b"forged" not in answer.data
    client = page(app.test_client(), "tlg.prosecutor")
    shown = client.get(f"/cases/{iid}/attachments/{info.attachment_id}")
    assert shown.status_code == 409 and b"forged" not in shown.data
    assert "больше не совпадает с SHA-256" in shown.get_data(as_text=True)


def test_files_uploaded_on_the_task_page_are_on_the_case_page(engine, app) -> None:  # type: ignore[no-untyped-def]
    from tests.test_web_queue import csrf

    iid, guid = started(engine)
    client = page(app.test_client(), "tlg.prosecutor")
    form = client.get(f"/tasks/{guid}", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in form
    assert 'type="file"' in form and "multiple" in form
    photo = bytes(range(256)) * 8  # 2 KB
    sent = client.post(
        f"/tasks/{guid}",
        data={
            "csrf_token": csrf(form),
            "action": "complete",
            "note": "см. файлы",
            "materials": [
                (io.BytesIO(PDF), "заключение.pdf", "application/pdf"),
                (io.BytesIO(photo), "фото.png", "image/png"),
            ],  # noqa: E501
            "conclusion": (io.BytesIO(b""), ""),  # nothing chosen: the browser's empty part
        },
        content_type="multipart/form-data",
        headers={"Accept-Language": "ru"},
    )
    assert sent.status_code == 302, sent.get_data(as_text=True)
    with engine.db.read() as conn:
        files = {f.name: f for f in attachments_of(conn, iid)}
    assert set(files) == {"заключение.pdf", "фото.png"}
    assert files["фото.png"].content_type == "image/png" and files["фото.png"].size == 2048

    case = client.get(f"/cases/{iid}", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    step = case[case.index("Подтверждающие материалы") :]
    assert "заключение.pdf" in step and "2 КБ" in step
    assert files["заключение.pdf"].sha256 in step
    link = f"/cases/{iid}/attachments/{files['фото.png'].attachment_id}"
    assert link in step
    got = client.get(link)
    assert got.status_code == 200 and got.data == photo
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    outsider = page(app.test_client(), "kar.prosecutor")
    assert outsider.get(link).status_code == 404


def test_a_page_upload_breaking_a_rule_shows_words_and_stores_nothing(engine, app) -> None:  # type: ignore[no-untyped-def]
    from tests.test_web_queue import csrf

    _, guid = started(engine)
    client = page(app.test_client(), "tlg.prosecutor")
    form = client.get(f"/tasks/{guid}").get_data(as_text=True)
    missing = client.post(
        f"/tasks/{guid}",
        data={"csrf_token": csrf(form), "action": "complete", "note": "x"},
        content_type="multipart/form-data",
    )
    assert missing.status_code == 422
    assert "Приложите хотя бы один файл." in missing.get_data(as_text=True)
    big = client.post(
        f"/tasks/{guid}",
        data={
            "csrf_token": csrf(form),
            "action": "complete",
            "materials": (io.BytesIO(b"\0" * (MAX_FILE_BYTES + 10)), "scan.tiff", "image/tiff"),
        },
        content_type="multipart/form-data",
    )
    assert big.status_code == 422
    assert "Файл «scan.tiff» больше 10 МБ" in big.get_data(as_text=True)
    assert stored_count(engine) == 0
    no_token = client.post(
        f"/tasks/{guid}",
        data={"action": "complete", "materials": (io.BytesIO(PDF), "a.pdf")},
        content_type="multipart/form-data",
    )
    assert no_token.status_code == 400 and stored_count(engine) == 0


def test_files_of_the_start_page_go_with_the_new_case(engine, app) -> None:  # type: ignore[no-untyped-def]
    from tests.test_web_queue import csrf

    client = page(app.test_client(), "tlg.prosecutor")
    form = client.get("/start/attach_files").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in form and 'name="report_files"' in form
    opened = client.post(
        "/start/attach_files",
        data={
            "csrf_token": csrf(form),
            "institution": "UK-161-2",
            "report_files": (io.BytesIO(b"report text"), "report.txt", "text/plain"),
        },
        content_type="multipart/form-data",
    )
    assert opened.status_code == 302, opened.get_data(as_text=True)
    iid = int(opened.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    with engine.db.read() as conn:
        [info] = attachments_of(conn, iid)
    assert (info.name, info.size, info.task_guid) == ("report.txt", 11, None)
    case = client.get(f"/cases/{iid}").get_data(as_text=True)
    opening = case[case.index("Заведение дела") :]
    assert "report.txt" in opening and "11 байт" in opening and info.sha256 in opening


def test_a_download_is_a_read_of_the_case_in_the_access_log(engine, api, app) -> None:  # type: ignore[no-untyped-def]
    iid, guid = started(engine)
    engine.tasks.complete(guid, {"materials": [upload("a.pdf", PDF)]}, actor="tlg.prosecutor")
    with engine.db.read() as conn:
        [info] = attachments_of(conn, iid)
    link = f"/cases/{iid}/attachments/{info.attachment_id}"
    assert page(app.test_client(), "tlg.prosecutor").get(link).status_code == 200
    assert page(app.test_client(), "kar.prosecutor").get(link).status_code == 404
    assert api("GET", link).status_code == 200
    with engine.db.read() as conn:
        rows = conn.execute(
            text("SELECT login, what, status FROM access_log WHERE instance_id = :c ORDER BY id"),
            {"c": iid},
        ).all()
    assert [tuple(r) for r in rows] == [
        ("tlg.prosecutor", "attachment", 200),
        ("kar.prosecutor", "attachment", 404),
        ("tlg.prosecutor", "api", 200),
    ]
