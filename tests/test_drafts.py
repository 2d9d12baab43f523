"""Drafts of procedure models: kept on the server, shared by methodologists, saved against a
revision, checked, tried and published only when they check — through the engine and through
every route of the editor, with the refusals in words for everyone else."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.drafts import MAX_FILE_BYTES, DraftConflict, DraftProblems, DraftRefused
from engine.models import Definition, ModelDraft
from tests.test_web_queue import csrf, sign_in
from tests.test_web_workspace import PENALTY
from web.app import create_app
from workflows.users import UserDirectory

MAIN = "penalty_room_check/penalty_room_check.bpmn"
METHODOLOGIST = "gp.methodologist"
OTHER_METHODOLOGIST = "alm.methodologist"

UNCONDITIONED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
  id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="gateway_draft" name="Gateway draft" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="choose" name="Which way?">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="end_a"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_b"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="choose" />
    <bpmn:sequenceFlow id="f2" sourceRef="choose" targetRef="end_a" />
    <bpmn:sequenceFlow id="f3" sourceRef="choose" targetRef="end_b" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="d"><bpmndi:BPMNPlane id="p" bpmnElement="gateway_draft">
    <bpmndi:BPMNShape id="start_di" bpmnElement="start">
      <dc:Bounds x="100" y="100" width="36" height="36" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="choose_di" bpmnElement="choose">
      <dc:Bounds x="200" y="93" width="50" height="50" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="end_a_di" bpmnElement="end_a">
      <dc:Bounds x="320" y="40" width="36" height="36" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="end_b_di" bpmnElement="end_b">
      <dc:Bounds x="320" y="160" width="36" height="36" /></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge id="f1_di" bpmnElement="f1">
      <di:waypoint x="136" y="118" /><di:waypoint x="200" y="118" /></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="f2_di" bpmnElement="f2">
      <di:waypoint x="225" y="93" /><di:waypoint x="320" y="58" /></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="f3_di" bpmnElement="f3">
      <di:waypoint x="225" y="143" /><di:waypoint x="320" y="178" /></bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def definitions(engine: Any, process_id: str) -> int:
    with engine.db.read() as conn:
        return conn.execute(
            select(func.count())
            .select_from(Definition.__table__)
            .where(Definition.__table__.c.process_id == process_id)
        ).scalar_one()


def draft_rows(engine: Any) -> int:
    with engine.db.read() as conn:
        return conn.execute(select(func.count()).select_from(ModelDraft.__table__)).scalar_one()


@pytest.fixture
def published(domain_engine, clock):  # type: ignore[no-untyped-def]
    loaded, _ = domain_engine.repository.publish(PENALTY, now=clock.now())
    return loaded


@pytest.fixture
def app(domain_engine, published):  # type: ignore[no-untyped-def]
    return create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True})


def in_english(client: Any) -> str:
    """Sign-in done: the user's language set to English (the default is Russian); the token."""
    token = csrf(client.get("/queue").get_data(as_text=True))
    client.post("/language", data={"csrf_token": token, "locale": "en", "next": "/queue"})
    return token


def client_of(app: Any, login: str) -> tuple[Any, str]:
    client = app.test_client()
    assert sign_in(client, login).status_code == 302
    return client, in_english(client)


def json_headers(token: str) -> dict[str, str]:
    return {"X-CSRFToken": token}


# -- the engine -------------------------------------------------------------------------------


def test_a_draft_copies_its_version_and_survives_in_the_database(
    domain_engine, published, clock, make_engine
) -> None:
    draft_id = domain_engine.drafts.create_from_version(
        published.id, actor=METHODOLOGIST, now=clock.now()
    )
    draft = domain_engine.drafts.get(draft_id)
    assert draft["process_id"] == "penalty_room_check"
    assert draft["main"] == MAIN
    assert draft["files"] == published.files
    assert draft["base_version"] == 1 and draft["revision"] == 1
    # another process (a fresh engine over the same database) sees the same draft
    other = make_engine()
    assert [d["id"] for d in other.drafts.list()] == [draft_id]


def test_a_save_against_a_moved_revision_is_refused_and_names_who_saved(
    domain_engine, published, clock
) -> None:
    drafts = domain_engine.drafts
    draft_id = drafts.create_from_version(published.id, actor=METHODOLOGIST, now=clock.now())
    text = drafts.get(draft_id)["files"][MAIN].replace("Параметры процедуры", "Параметры")
    assert (
        drafts.save_file(draft_id, MAIN, text, revision=1, actor=METHODOLOGIST, now=clock.now())
        == 2
    )
    with pytest.raises(DraftConflict) as caught:
        drafts.save_file(
            draft_id, MAIN, text + " ", revision=1, actor="alm.methodologist", now=clock.now()
        )
    assert caught.value.by == METHODOLOGIST and caught.value.revision == 2
    assert drafts.get(draft_id)["files"][MAIN] == text  # the first save stands


def test_files_people_send_are_bounded_and_read_before_they_are_kept(
    domain_engine, published, clock
) -> None:
    drafts = domain_engine.drafts
    draft_id = drafts.create_from_version(published.id, actor=METHODOLOGIST, now=clock.now())
    for name, content, code in [
        (MAIN, "<bpmn:definitions", "malformed_xml"),
        ("penalty_room_check/start.form.json", "[1, 2", "malformed_json"),
        ("../etc/passwd.bpmn", "<a/>", "bad_file_name"),
        ("penalty_room_check/x.py", "print(1)", "bad_file_name"),
        (MAIN, "<a>" + "x" * MAX_FILE_BYTES + "</a>", "file_too_large"),
        (
            MAIN,
            drafts.get(draft_id)["files"][MAIN].replace('id="penalty_room_check"', 'id="x"'),
            "process_id_changed",
        ),
    ]:
        with pytest.raises(DraftRefused) as caught:
            drafts.save_file(
                draft_id, name, content, revision=1, actor=METHODOLOGIST, now=clock.now()
            )
        assert caught.value.code == code, name
    assert drafts.get(draft_id)["revision"] == 1


def test_an_upload_is_read_for_its_process_and_malformed_xml_is_refused_with_its_line(
    domain_engine, clock
) -> None:
    drafts = domain_engine.drafts
    draft_id = drafts.create_from_upload(
        "drawn.bpmn", UNCONDITIONED.encode(), actor=METHODOLOGIST, now=clock.now()
    )
    draft = drafts.get(draft_id)
    assert draft["process_id"] == "gateway_draft"
    assert draft["main"] == "gateway_draft/gateway_draft.bpmn"
    assert draft["base_definition_id"] is None
    with pytest.raises(DraftRefused) as caught:
        drafts.create_from_upload(
            "broken.bpmn",
            b"<?xml version='1.0'?>\n<definitions>\n<oops></definitions>",
            actor="x",
            now=clock.now(),
        )
    assert caught.value.code == "malformed_xml" and caught.value.params["line"] == 3
    with pytest.raises(DraftRefused) as caught:
        drafts.create_from_upload(
            "big.bpmn", b" " * (MAX_FILE_BYTES + 1), actor="x", now=clock.now()
        )
    assert caught.value.code == "file_too_large"
    with pytest.raises(DraftRefused) as caught:
        drafts.create_from_upload("notes.txt", b"<a/>", actor="x", now=clock.now())
    assert caught.value.code == "not_bpmn"
    assert len(drafts.list()) == 1


def test_a_draft_that_does_not_check_publishes_nothing(domain_engine, clock) -> None:
    drafts = domain_engine.drafts
    draft_id = drafts.create_from_upload(
        "drawn.bpmn", UNCONDITIONED.encode(), actor=METHODOLOGIST, now=clock.now()
    )
    problems = drafts.check(draft_id)
    assert problems and any(p["element_id"] in ("choose", "f2", "f3") for p in problems)
    with pytest.raises(DraftProblems):
        drafts.publish(draft_id, actor=METHODOLOGIST, note="first", now=clock.now())
    assert definitions(domain_engine, "gateway_draft") == 0
    assert drafts.get(draft_id)["revision"] == 1  # the draft stays to be mended


def test_publishing_a_changed_draft_makes_the_next_version_and_removes_the_draft(
    domain_engine, published, clock
) -> None:
    drafts = domain_engine.drafts
    draft_id = drafts.create_from_version(published.id, actor=METHODOLOGIST, now=clock.now())
    text = drafts.get(draft_id)["files"][MAIN].replace(
        "check_hours_near = 24", "check_hours_near = 12"
    )
    drafts.save_file(draft_id, MAIN, text, revision=1, actor=METHODOLOGIST, now=clock.now())
    with pytest.raises(DraftRefused) as caught:
        drafts.publish(draft_id, actor=METHODOLOGIST, note="  ", now=clock.now())
    assert caught.value.code == "note_required"
    loaded, created = drafts.publish(
        draft_id, actor=METHODOLOGIST, note="12 hours", legal_basis="¶11.6", now=clock.now()
    )
    assert created and loaded.version == 2
    assert "check_hours_near = 12" in loaded.files[MAIN]
    assert drafts.list() == []


# -- the routes -------------------------------------------------------------------------------


def test_a_methodologist_opens_saves_checks_tries_and_publishes_through_the_pages(
    app, domain_engine
) -> None:
    client, token = client_of(app, METHODOLOGIST)
    answer = client.post("/procedures/penalty_room_check/v1/draft", data={"csrf_token": token})
    assert answer.status_code == 302
    draft_id = int(re.search(r"/procedures/drafts/(\d+)$", answer.headers["Location"]).group(1))
    page = client.get(f"/procedures/drafts/{draft_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    config = json.loads(
        re.search(
            r'<script type="application/json" id="editor-config">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert config["revision"] == 1 and config["main"] == MAIN and config["may_publish"]
    assert "<script>" not in html  # nothing inline: the CSP allows only files
    assert "penalty_room_check/start.form.json" in html  # the forms open in the form editor

    got = client.get(f"/procedures/drafts/{draft_id}/files").get_json()
    text = got["files"][MAIN].replace("check_hours_near = 24", "check_hours_near = 12")
    saved = client.put(
        f"/procedures/drafts/{draft_id}/files",
        json={"name": MAIN, "content": text, "revision": 1},
        headers=json_headers(token),
    )
    assert saved.status_code == 200 and saved.get_json()["revision"] == 2
    # a second methodologist saving from the page they opened before is told who saved when
    other, other_token = client_of(app, OTHER_METHODOLOGIST)
    stale = other.put(
        f"/procedures/drafts/{draft_id}/files",
        json={"name": MAIN, "content": text + " ", "revision": 1},
        headers=json_headers(other_token),
    )
    assert stale.status_code == 409
    assert "meanwhile" in stale.get_json()["message"]
    assert UserDirectory(domain_engine.db).get(METHODOLOGIST).name in stale.get_json()["message"]
    # and the draft is theirs to see in the list
    listed = other.get("/procedures/drafts/").get_data(as_text=True)
    assert f'data-draft="{draft_id}"' in listed

    checked = client.post(
        f"/procedures/drafts/{draft_id}/check", json={}, headers=json_headers(token)
    )
    assert checked.status_code == 200 and checked.get_json() == {"ok": True, "problems": []}

    tried = client.post(
        f"/procedures/drafts/{draft_id}/try",
        json={
            "now": "2026-11-24T10:00",
            "data": {
                "institution": "UK-161-2",
                "convict_name": "Петров Иван",
                "placed_at": "2026-11-24T09:30:00+05:00",
                "resolution_number": "145",
                "resolution_date": "2026-11-24",
                "grounds": "Отказ от работы",
                "duration_days": 10,
            },
        },
        headers=json_headers(token),
    ).get_json()
    assert tried["ok"], tried
    assert [t["due_label"] for t in tried["timers"]] == ["24 Nov 2026, 21:30"]  # 09:30 + 12 h
    assert tried["tasks"] and tried["tasks"][0]["office_name"]
    # the lane in words (its name_en), not the engine's lane key "supervising office"
    assert tried["tasks"][0]["lane"] == "Office supervising the institution"

    published = client.post(
        f"/procedures/drafts/{draft_id}/publish",
        json={"note": "12 hours", "legal_basis": "internal rule", "revision": 2},
        headers=json_headers(token),
    )
    assert published.status_code == 200, published.get_json()
    body = published.get_json()
    assert body["version"] == 2 and body["url"] == "/procedures/penalty_room_check/v2"
    assert definitions(domain_engine, "penalty_room_check") == 2
    assert client.get(f"/procedures/drafts/{draft_id}").status_code == 404


def test_publishing_a_draft_with_an_unconditioned_gateway_names_the_element(
    app, domain_engine
) -> None:
    client, token = client_of(app, METHODOLOGIST)
    answer = client.post(
        "/procedures/drafts/import",
        data={"csrf_token": token, "file": (io.BytesIO(UNCONDITIONED.encode()), "drawn.bpmn")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 303
    draft_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    refused = client.post(
        f"/procedures/drafts/{draft_id}/publish",
        json={"note": "first"},
        headers=json_headers(token),
    )
    assert refused.status_code == 422
    body = refused.get_json()
    assert "nothing was published" in body["message"]
    assert any(p["element_id"] in ("choose", "f2", "f3") for p in body["problems"])
    assert any("Which way?" in p["text"] for p in body["problems"])
    assert definitions(domain_engine, "gateway_draft") == 0


def test_imports_of_malformed_or_oversize_files_are_refused_in_words(app, domain_engine) -> None:
    client, token = client_of(app, METHODOLOGIST)
    broken = client.post(
        "/procedures/drafts/import",
        data={
            "csrf_token": token,
            "file": (io.BytesIO(b"<?xml version='1.0'?>\n<a>\n<b></a>"), "x.bpmn"),
        },
        content_type="multipart/form-data",
    )
    assert broken.status_code == 400
    text = broken.get_data(as_text=True)
    assert "x.bpmn is not well-formed XML (line 3)" in text
    big = client.post(
        "/procedures/drafts/import",
        data={"csrf_token": token, "file": (io.BytesIO(b" " * (MAX_FILE_BYTES + 10)), "big.bpmn")},
        content_type="multipart/form-data",
    )
    assert big.status_code == 400
    assert "at most 2 000 000 bytes" in big.get_data(as_text=True)
    huge = client.post(
        "/procedures/drafts/import",
        data={"csrf_token": token, "file": (io.BytesIO(b" " * (7 * 1024 * 1024)), "huge.bpmn")},
        content_type="multipart/form-data",
    )
    assert huge.status_code == 413
    assert "A model file may have at most 2 MB" in huge.get_data(as_text=True)
    assert draft_rows(domain_engine) == 0


@pytest.mark.parametrize("login", ["tlg.prosecutor", "gp.auditor", "tlg.head"])
def test_others_are_refused_by_every_draft_route(
    app, domain_engine, published, clock, login
) -> None:
    draft_id = domain_engine.drafts.create_from_version(
        published.id, actor=METHODOLOGIST, now=clock.now()
    )
    client = app.test_client()
    assert sign_in(client, login).status_code == 302
    token = in_english(client)
    h = json_headers(token)
    answers = [
        client.get("/procedures/drafts/"),
        client.get(f"/procedures/drafts/{draft_id}"),
        client.get(f"/procedures/drafts/{draft_id}/files"),
        client.get(f"/procedures/drafts/{draft_id}/form/penalty_room_check/start.form.json"),
        client.post("/procedures/penalty_room_check/v1/draft", data={"csrf_token": token}),
        client.post("/procedures/drafts/import", data={"csrf_token": token}),
        client.post(f"/procedures/drafts/{draft_id}/delete", data={"csrf_token": token}),
        client.put(
            f"/procedures/drafts/{draft_id}/files",
            json={"name": MAIN, "content": "<a/>", "revision": 1},
            headers=h,
        ),
        client.post(f"/procedures/drafts/{draft_id}/check", json={}, headers=h),
        client.post(f"/procedures/drafts/{draft_id}/try", json={}, headers=h),
        client.post(f"/procedures/drafts/{draft_id}/publish", json={"note": "x"}, headers=h),
    ]
    assert [a.status_code for a in answers] == [403] * len(answers)
    words = answers[-1].get_json()["message"]
    assert words == "Only methodologists and administrators work on the procedures' models."
    assert domain_engine.drafts.get(draft_id)["revision"] == 1
    assert len(domain_engine.drafts.list()) == 1
    assert definitions(domain_engine, "penalty_room_check") == 1


def test_an_admin_edits_a_draft_but_only_a_methodologist_publishes(
    app, domain_engine, published, clock
) -> None:
    draft_id = domain_engine.drafts.create_from_version(
        published.id, actor=METHODOLOGIST, now=clock.now()
    )
    client, token = client_of(app, "gp.admin")
    page = client.get(f"/procedures/drafts/{draft_id}").get_data(as_text=True)
    assert 'id="publish-refused"' in page
    refused = client.post(
        f"/procedures/drafts/{draft_id}/publish", json={"note": "x"}, headers=json_headers(token)
    )
    assert refused.status_code == 403
    assert (
        refused.get_json()["message"] == "Only a methodologist publishes a version of a procedure."
    )
    assert definitions(domain_engine, "penalty_room_check") == 1


def test_json_writes_without_the_csrf_header_are_refused(
    app, domain_engine, published, clock
) -> None:
    draft_id = domain_engine.drafts.create_from_version(
        published.id, actor=METHODOLOGIST, now=clock.now()
    )
    app.config["WTF_CSRF_ENABLED"] = True
    client, _ = client_of(app, METHODOLOGIST)
    answer = client.put(
        f"/procedures/drafts/{draft_id}/files",
        json={"name": MAIN, "content": "<a/>", "revision": 1},
    )
    assert answer.status_code == 400
    assert domain_engine.drafts.get(draft_id)["revision"] == 1


def test_the_draft_pages_speak_russian_and_kazakh(app, domain_engine, published, clock) -> None:
    domain_engine.drafts.create_from_version(published.id, actor=METHODOLOGIST, now=clock.now())
    client, token = client_of(app, METHODOLOGIST)
    client.post(
        "/language", data={"csrf_token": token, "locale": "ru", "next": "/procedures/drafts/"}
    )
    assert "Черновики процедур" in client.get("/procedures/drafts/").get_data(as_text=True)
    client.post(
        "/language", data={"csrf_token": token, "locale": "kk", "next": "/procedures/drafts/"}
    )
    assert "Рәсімдердің жобалары" in client.get("/procedures/drafts/").get_data(as_text=True)


def _process(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"\n'
        '  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs"\n'
        '  targetNamespace="http://bpmn.io/schema/bpmn">\n'
        '  <bpmn:process id="bad_draft" isExecutable="true">\n'
        f"{body}\n"
        "  </bpmn:process>\n"
        "</bpmn:definitions>\n"
    )


MISSING_CALL = _process(
    """    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="call" name="Send the act" calledElement="no_such_procedure">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:callActivity>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end" />"""
)
BAD_TIMER = _process(
    """    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait" name="Wait a day">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="t">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P1X</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end" />"""
)


@pytest.mark.parametrize(
    ("xml", "element"), [(MISSING_CALL, "call"), (BAD_TIMER, "wait")], ids=["call", "timer"]
)
def test_a_missing_called_procedure_or_an_invalid_timer_is_a_problem_on_its_element(
    app, domain_engine, xml: str, element: str
) -> None:
    client, token = client_of(app, METHODOLOGIST)
    answer = client.post(
        "/procedures/drafts/import",
        data={"csrf_token": token, "file": (io.BytesIO(xml.encode()), "bad.bpmn")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 303
    draft_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    checked = client.post(
        f"/procedures/drafts/{draft_id}/check", json={}, headers=json_headers(token)
    ).get_json()
    assert not checked["ok"]
    assert [p["element_id"] for p in checked["problems"]] == [element], checked
    refused = client.post(
        f"/procedures/drafts/{draft_id}/publish", json={"note": "x"}, headers=json_headers(token)
    )
    assert refused.status_code == 422
    assert definitions(domain_engine, "bad_draft") == 0
