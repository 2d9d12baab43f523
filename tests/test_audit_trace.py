"""The auditor's trace (workflows/trace.py, web/audit_trace.py): a case that was claimed, handed
to a colleague, breached its deadline (escalated to the regional head) and was completed with
changed values reads in order and in words; each deadline says met/breached and by how much;
the diagram and the steps table count the passes; exports carry the hashes."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest

from engine.tasks import TaskQuery
from tests.test_case_file import name, switch, visible_text
from tests.test_web_queue import sign_in
from tests.test_web_workspace import PENALTY, page, placement
from web.app import create_app
from workflows.trace import build_trace

LATE = timedelta(hours=2, minutes=15)


@pytest.fixture
def app(domain_engine, clock):  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(PENALTY, now=clock.now())
    return create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True})


@pytest.fixture
def web(app):  # type: ignore[no-untyped-def]
    return app.test_client()


def late_case(engine, clock) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Claimed by tlg.prosecutor, handed to tlg.prosecutor2, 2 h 15 min past the deadline the
    worker records the breach (and the model escalates), then the colleague completes it."""
    iid = engine.runtime.start("penalty_room_check", placement(), actor="tlg.prosecutor")
    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    engine.tasks.claim(task.task_guid, actor="tlg.prosecutor", office_code="ALM-TLG")
    engine.tasks.delegate(
        task.task_guid, "tlg.prosecutor2", actor="tlg.prosecutor", office_code="ALM-TLG"
    )
    clock.set(task.due_at + LATE)
    engine.management.fire_due(clock.now())
    engine.management.fire_alerts(clock.now())
    engine.tasks.complete(
        task.task_guid,
        {"placement_lawful": False, "conditions_lawful": True, "findings": "Нет подписи"},
        actor="tlg.prosecutor2",
        office_code="ALM-TLG",
    )
    return iid, task.task_guid


def test_the_trace_keeps_the_chain_order_and_marks_the_escalation(domain_engine, clock) -> None:
    domain_engine.repository.publish(PENALTY, now=clock.now())
    iid, _ = late_case(domain_engine, clock)
    trace = build_trace(domain_engine, iid)
    kinds = [e.kind for e in trace.events]
    assert kinds[:4] == ["instance_started", "task_created", "task_claimed", "task_delegated"]
    assert kinds.index("timer_fired") < kinds.index("deadline_breached")
    assert kinds.index("deadline_breached") < kinds.index("task_completed")
    assert [e.seq for e in trace.events] == list(range(1, len(kinds) + 1))
    escalations = [e for e in trace.events if e.escalation]
    assert [(e.task_name, e.after["office_code"]) for e in escalations] == [
        ("breach_control", "ALM-OBL")
    ]
    [done] = [e for e in trace.events if e.kind == "task_completed"]
    assert done.actor == "tlg.prosecutor2"
    assert done.after["placement_lawful"] is False and done.before["placement_lawful"] is None
    assert all(len(e.hash) == 64 for e in trace.events)
    assert trace.version.version == 1 and len(trace.version.sha256) == 64


def test_each_deadline_says_met_or_breached_and_by_how_much(domain_engine, clock) -> None:
    opened = clock.now()
    domain_engine.repository.publish(PENALTY, now=opened)
    late, _ = late_case(domain_engine, clock)
    [d] = build_trace(domain_engine, late).deadlines
    assert (d.task_name, d.outcome, d.margin) == ("placement_check", "breached", LATE)

    clock.set(opened)
    early = domain_engine.runtime.start("penalty_room_check", placement(), actor="tlg.prosecutor")
    [task] = domain_engine.tasks.list(TaskQuery(instance_id=early))
    clock.set(task.due_at - timedelta(hours=3))
    [d] = build_trace(domain_engine, early).deadlines
    assert (d.outcome, d.margin) == ("pending", timedelta(hours=3))
    domain_engine.tasks.complete(
        task.task_guid,
        {"placement_lawful": True, "conditions_lawful": True, "findings": "Нарушений нет"},
        actor="tlg.prosecutor",
    )
    [d] = build_trace(domain_engine, early).deadlines
    assert (d.outcome, d.margin) == ("met", timedelta(hours=3))


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        (
            "ru",
            (
                "дело заведено",
                "задача взята в работу",
                "задача передана",
                "срок нарушен",
                "задача выполнена",
                "опоздание на 2 ч 15 мин",
                "25.11.2026, 09:30",  # the deadline, Almaty time
            ),
        ),
        (
            "en",
            (
                "case opened",
                "task claimed",
                "task delegated",
                "deadline breached",
                "task completed",
                "escalated: task assigned",
                "late by 2 h 15 min",
                "25 Nov 2026, 09:30",
            ),
        ),
    ],
)
def test_the_trace_page_tells_who_when_and_what_in_words(
    web, domain_engine, clock, locale, words
) -> None:
    iid, _ = late_case(domain_engine, clock)
    sign_in(web, "tlg.auditor")
    switch(web, locale)
    html = page(web, f"/audit/cases/{iid}")
    text = visible_text(html)
    for word in words:
        assert word in text, word
    # who: names from the users table, with role and office
    for login in ("tlg.prosecutor", "tlg.prosecutor2"):
        assert name(domain_engine, login) in text
    timeline = visible_text(html[html.index('id="timeline"') :])
    assert "tlg.prosecutor" not in timeline
    # the delegation names both people; the completion shows the value before and after
    row = re.search(r'<tr data-event="task_delegated".*?</tr>', html, re.S).group(0)
    assert name(domain_engine, "tlg.prosecutor2") in row
    done = visible_text(re.search(r'<tr data-event="task_completed".*?</tr>', html, re.S).group(0))
    assert "→" in done and ("нет" in done or "no" in done)
    # the order of the timeline is the chain's
    order = re.findall(r'<tr data-event="(\w+)"', html[html.index('id="timeline"') :])
    assert (
        order.index("task_claimed") < order.index("task_delegated") < order.index("task_completed")
    )
    assert re.search(r'<tr data-task="placement_check" data-outcome="breached">', html)


def test_the_diagram_and_the_steps_table_count_the_passes(web, domain_engine, clock) -> None:
    iid, _ = late_case(domain_engine, clock)
    sign_in(web, "tlg.auditor")
    switch(web, "en")
    html = page(web, f"/audit/cases/{iid}")
    counts = json.loads(re.search(r"data-counts='([^']*)'", html).group(1).replace("&#34;", '"'))
    assert counts["placement_check"] == 1 and counts["start"] == 1
    breached = re.search(r"data-breached='([^']*)'", html).group(1)
    assert "placement_check" in breached
    current = re.search(r"data-current='([^']*)'", html).group(1)
    assert "response_act" in current and "breach_control" in current
    row = re.search(r'<tr data-element="placement_check"><td>([^<]+)</td><td>(\d+)</td>', html)
    assert row.group(2) == "1"
    waits = re.search(r'<tr data-element="response_act"><td>[^<]+</td><td>([^<]+)</td>', html)
    assert waits.group(1) == "waits here"


def test_exports_carry_every_event_hash(web, domain_engine, clock) -> None:
    iid, _ = late_case(domain_engine, clock)
    sign_in(web, "tlg.auditor")
    hashes = [e["hash"] for e in domain_engine.history.events(iid)]
    answer = web.get(f"/audit/cases/{iid}/export.json")
    assert answer.status_code == 200 and "attachment" in answer.headers["Content-Disposition"]
    assert all(h in answer.get_data(as_text=True) for h in hashes)
    answer = web.get(f"/audit/cases/{iid}/export.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r[-1] for r in rows[1 : len(hashes) + 1]] == hashes
    report = page(web, f"/audit/cases/{iid}/report")
    assert all(h in report for h in hashes)
    assert "audit-trace.css" in report and "<script>" not in report


def test_who_may_read_the_trace(web, domain_engine, clock) -> None:
    iid, _ = late_case(domain_engine, clock)
    for login, status in (
        ("tlg.auditor", 200),
        ("alm.auditor", 200),
        ("tlg.head", 200),
        ("tlg.prosecutor", 403),
        ("knv.head", 404),
        ("gp.admin", 403),
    ):
        client = web.application.test_client()
        sign_in(client, login)
        assert client.get(f"/audit/cases/{iid}").status_code == status, login
    client = web.application.test_client()
    sign_in(client, "tlg.auditor")
    assert client.get("/audit/cases/999999").status_code == 404
    case_page = page(client, f"/cases/{iid}")
    assert f'href="/audit/cases/{iid}"' in case_page


def test_the_trace_shows_the_signed_checkpoint_and_exports_verify_offline(
    web, domain_engine, clock
) -> None:
    from engine.audit_export import verify_export
    from engine.audit_keys import AuditSettings, SigningKey

    key = SigningKey.generate()
    domain_engine.audit = AuditSettings(key=key)
    iid, _ = late_case(domain_engine, clock)
    sign_in(web, "tlg.auditor")
    switch(web, "en")
    html = page(web, f"/audit/cases/{iid}")
    assert 'data-ok="true"' in html
    assert "No checkpoint covers this case's events yet" in visible_text(html)

    checkpoint = domain_engine.management.checkpoint(clock.now())
    html = page(web, f"/audit/cases/{iid}")
    proof = visible_text(html[html.index('id="proof"') : html.index("</section>")])
    assert "Covered by checkpoint №" in proof and "signature valid" in proof, proof
    assert 'data-signed="true"' in html

    doc = json.loads(web.get(f"/audit/cases/{iid}/export.json").get_data(as_text=True))
    assert doc["checkpoint"]["public_key"].startswith("-----BEGIN PUBLIC KEY")
    assert verify_export(doc)["ok"] is True
    doc["events"][3]["actor"] = "someone.else"
    assert verify_export(doc)["ok"] is False
    report = visible_text(page(web, f"/audit/cases/{iid}/report"))
    assert "BEGIN PUBLIC KEY" in report and doc["checkpoint"]["signature"] in report
    assert checkpoint["hash"] in report if "hash" in checkpoint else True

    # the global page: the checkpoint, signed; a run now is stored and shown
    html = page(web, "/audit/verification")
    assert "The history has not been verified yet." in visible_text(html)
    assert re.search(r'<tr data-checkpoint="\d+">.*?data-signed="true"', html, re.S)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    answer = web.post("/audit/verification", data={"csrf_token": token})
    assert answer.status_code == 302
    text = visible_text(page(web, "/audit/verification"))
    assert "everything holds" in text and name(domain_engine, "tlg.auditor") in text


def test_every_event_kind_the_code_writes_has_words_in_ru_kk_and_en() -> None:
    """The trace names each event in words: every kind the engine, domain and web write to the
    history (found in the source, so a new kind cannot slip by) has a label translated in the
    Russian and Kazakh catalogues."""
    from babel.messages.pofile import read_po

    from tests.conftest import ROOT
    from web.audit_trace import EVENT_WORDS

    patterns = [
        r'PendingEvent\(\s*"([a-z_]+)"',
        r'\.record\(\s*"([a-z_]+)"',
        r'\},\s*"([a-z_]+)",\s*\{',  # engine/tasks.py: claim, unclaim, delegate
        r'_drain_alerts\([^()]*?"([a-z_]+)",\s*now\s*\)',  # the worker's reminders and breaches
    ]
    written: set[str] = set()
    for folder in ("engine", "workflows", "web"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for pattern in patterns:
                written.update(re.findall(pattern, text))
    assert written >= {
        "instance_started",
        "task_created",
        "task_claimed",
        "task_delegated",
        "task_completed",
        "deadline_breached",
        "timer_fired",
        "service_failed",
        "task_cancelled",
    }, written
    assert written - set(EVENT_WORDS) == set()
    for lang in ("ru", "kk"):
        po = ROOT / "web" / "translations" / lang / "LC_MESSAGES" / "messages.po"
        catalogue = read_po(po.open("rb"))
        for kind, word in EVENT_WORDS.items():
            msgid = word._args[0]
            assert catalogue.get(msgid) is not None and catalogue[msgid].string, (lang, kind)


def test_an_attached_file_is_named_with_the_start_of_its_hash() -> None:
    from web.audit_trace import _value

    ref = {"attachment_id": "x", "name": "акт.pdf", "content_type": "application/pdf"}
    text = _value(None, "act_file", [{**ref, "size": 10, "sha256": "ab" * 32}])  # type: ignore[arg-type]
    assert text == "акт.pdf (sha256 abababababab…)"


def test_the_case_page_tells_auditors_whether_the_record_holds(web, domain_engine, clock) -> None:
    iid, _ = late_case(domain_engine, clock)
    sign_in(web, "tlg.auditor")
    switch(web, "en")
    html = page(web, f"/cases/{iid}")
    assert 'id="case-proof" data-ok="true"' in html
    assert "everything holds" in visible_text(html)
    prosecutor = web.application.test_client()
    sign_in(prosecutor, "tlg.prosecutor")
    assert 'id="case-proof"' not in page(prosecutor, f"/cases/{iid}")


def test_a_step_passed_three_times_is_counted_three_times(web, domain_engine, clock) -> None:
    """An act reviewed, returned for rework and reviewed again: the review counts 3 passes on
    the diagram and in the steps table, and the rework shows the summary before and after."""
    from tests.test_proc_act_routing import MODEL, start_act

    domain_engine.repository.publish(MODEL, now=clock.now())
    case = start_act(domain_engine, origin="ALM-TLG", level="regional")
    case.review("ALM-TLG", "forward")
    case.review("ALM-OBL", "return", comment="Не указаны нормы закона")
    case.rework(summary="Акт с указанием норм УИК РК")
    case.review("ALM-OBL", "forward")
    sign_in(web, "alm.auditor")
    switch(web, "en")
    html = page(web, f"/audit/cases/{case.id}")
    counts = json.loads(re.search(r"data-counts='([^']*)'", html).group(1).replace("&#34;", '"'))
    assert counts["act_review"] == 3 and counts["act_rework"] == 1
    row = re.search(r'<tr data-element="act_review"><td>[^<]+</td><td>(\d+)</td>', html)
    assert row.group(1) == "3"
    reworked = [
        visible_text(r)
        for r in re.findall(r'<tr data-event="task_completed".*?</tr>', html, re.S)
        if "Акт с указанием норм УИК РК" in r
    ]
    assert len(reworked) == 1 and "→ Акт с указанием норм УИК РК" in reworked[0]


def test_the_trace_names_a_task_row_that_no_longer_matches_its_event(
    web, domain_engine, clock
) -> None:
    from sqlalchemy import update

    from engine.models import HumanTask

    iid, guid = late_case(domain_engine, clock)
    table = HumanTask.__table__
    with domain_engine.db.write() as conn:
        conn.execute(update(table).where(table.c.task_guid == guid).values(completed_by="tlg.head"))
    sign_in(web, "tlg.auditor")
    switch(web, "en")
    html = page(web, f"/audit/cases/{iid}")
    proof = html[html.index('id="proof"') : html.index("</section>")]
    assert 'data-ok="false"' in proof
    assert "does not hold" in visible_text(proof) and "tlg.head" in visible_text(proof)
    assert 'id="case-proof" data-ok="false"' in page(web, f"/cases/{iid}")
