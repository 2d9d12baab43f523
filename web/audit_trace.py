"""The auditor's trace of a case (`/audit/cases/<id>`), its exports, and the verification page.

The trace tells the case's whole recorded history in words (workflows/trace.py assembles it):
who (name from the users table, role, office), when (Almaty time), what (every event kind the
engine writes, incidents beside them), every deadline with met/breached and by how much, the
version the case ran on with its diagram (path, passes per element, where it waits, breached
deadlines), and whether the case's chain holds and which signed checkpoint covers it.

Who may read it is one rule of the domain (workflows/rights.py: `may_trace`,
`may_see_verification`);
nothing here writes to a case. Running the verification writes only its own result.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required

from engine.errors import NotFound
from workflows.catalogue import procedure_title
from workflows.trace import DeadlineOutcome, Trace, TraceEvent, build_trace

from . import audit_proof
from .case_file import (
    SYSTEM_ACTORS,
    Vocabulary,
    format_number,
    office_name,
    role_label,
)
from .cases_ui import _main_bpmn
from .diagram import element_name, model_index, path_taken
from .i18n import local_time, locale_code, translated
from .ids import register_converters
from .labels import EVENT_LABELS, task_state_label
from .refusals import abort_page, rights

audit_trace = Blueprint("audit_trace", __name__)
audit_trace.record(register_converters)

#: words for every kind of line the trace shows (the case page's words, and the rest)
EVENT_WORDS: dict[str, Any] = {
    **EVENT_LABELS,
    "escalated": lazy_gettext("escalated: task assigned"),
    "deadline_timer": lazy_gettext("deadline timer fired"),
    "incident": lazy_gettext("incident"),
    "instance_cancelled": lazy_gettext("case cancelled"),
    "case_migrated": lazy_gettext("case moved to another version"),
    "definition_published": lazy_gettext("procedure version published"),
}
OUTCOME_WORDS = {
    "met": lazy_gettext("met"),
    "breached": lazy_gettext("breached"),
    "pending": lazy_gettext("not yet due"),
    "cancelled": lazy_gettext("task cancelled before its deadline"),
}


def _engine() -> Any:
    return current_app.extensions["nadzor.engine"]


def _record(what: str, case_id: int) -> None:
    """Have the access log (web/access_log.py) record this read of the case, refusals included:
    called before the scope check, under the log's names ("trace", "export")."""
    try:
        from .access_log import record_access
    except ImportError:  # a checkout without the access log
        return
    record_access(what, case_id)


# -- words ------------------------------------------------------------------------------------


def duration_text(delta: timedelta | None) -> str:
    """A span as an auditor reads it: days, hours, minutes ("1 d 3 h 5 min")."""
    if delta is None:
        return ""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(gettext("%(n)s d", n=days))
    if hours:
        parts.append(gettext("%(n)s h", n=hours))
    if mins or not parts:
        parts.append(gettext("%(n)s min", n=mins))
    return " ".join(parts)


@dataclass
class Who:
    name: str
    role: str = ""
    office: str = ""
    login: str = ""


class Directory:
    """Logins as name, roles and office, read once per page."""

    def __init__(self, locale: str) -> None:
        self.users = current_app.extensions["nadzor.users"]
        self.offices = current_app.extensions["nadzor.directory"]
        self.locale = locale
        self._seen: dict[str, Any] = {}

    def office(self, code: str | None) -> str:
        return office_name(self.offices, code, self.locale)

    def who(self, login: str | None, office_code: str | None = None) -> Who:
        """The person; `office_code` is the office the event was recorded in (the user's
        office now if the event names none)."""
        if not login:
            return Who("—")
        system = SYSTEM_ACTORS.get(login)
        if system is not None:
            return Who(str(system), login=login)
        if login not in self._seen:
            try:
                self._seen[login] = self.users.get(login)
            except Exception:  # noqa: BLE001 - a removed account or an API client: its login
                self._seen[login] = None
        user = self._seen[login]
        if user is None:
            return Who(login, office=self.office(office_code), login=login)
        roles = ", ".join(role_label(r) for r in user.roles)
        return Who(user.name, roles, self.office(office_code or user.office_code), login)

    def name(self, login: str | None) -> str:
        return self.who(login).name


@dataclass
class Line:
    """One line of the timeline as the page and the report show it."""

    seq: int | None
    at: str
    who: Who
    kind: str
    what: str
    element: str
    details: list[str] = field(default_factory=list)
    hash: str = ""
    in_chain: bool = True


def _values(vocab: Vocabulary, before: Any, after: Any) -> list[str]:
    """Changed values as "label: before → after", labelled keys first, in form order."""
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    keys = list(dict.fromkeys([*after, *before]))
    keys.sort(key=lambda k: (not vocab.labelled(k),))
    out = []
    for key in keys:
        old, new = _value(vocab, key, before.get(key)), _value(vocab, key, after.get(key))
        out.append(f"{vocab.label(key)}: {old} → {new}")
    return out


def _value(vocab: Vocabulary, key: str, value: Any) -> str:
    """A value in words; attached files by name and the start of their sha256 (the file's
    proof: engine/attachments.py keeps a reference per file in the event)."""
    files = value if isinstance(value, list) else [value]
    if value and all(isinstance(f, dict) and "sha256" in f and "name" in f for f in files):
        return ", ".join(f"{f['name']} (sha256 {str(f['sha256'])[:12]}…)" for f in files)
    return vocab.text(key, value)


def incident_details(data: dict[str, Any]) -> list[str]:
    """What a person's action on a failed case recorded (engine/management.py): the reason a
    case was cancelled; a retry's attempt and, when it failed again, the error."""
    details = []
    if data.get("reason"):
        details.append(gettext("reason: %(reason)s", reason=data["reason"]))
    if data.get("attempt"):
        details.append(gettext("attempt %(n)s", n=data["attempt"]))
    if data.get("error"):
        details.append(gettext("failed again: %(error)s", error=data["error"]))
    return details


def _line(ev: TraceEvent, vocab: Vocabulary, people: Directory, titles: dict[str, str]) -> Line:
    kind = ev.kind
    data = ev.after if isinstance(ev.after, dict) else {}
    shown = "escalated" if ev.escalation else kind
    details: list[str] = []
    if kind == "timer_fired" and ev.task_name and ev.task_name in _boundary_names(vocab):
        shown = "deadline_timer"
    if kind == "instance_started":
        details.append(
            gettext("version %(v)s", v=data.get("version", "—"))
            + (f" · sha256 {str(data['sha256'])[:12]}…" if data.get("sha256") else "")
        )
        start = data.get("data") if isinstance(data.get("data"), dict) else {}
        if "institution" in start:  # the institution's name is the institution
            start = {k: v for k, v in start.items() if k != "institution_name"}
        details += [
            f"{vocab.label(k)}: {vocab.text(k, v)}" for k, v in start.items() if vocab.labelled(k)
        ]
    elif kind == "task_created":
        parts = [role_label(data.get("role"))] if data.get("role") else []
        if data.get("office_code"):
            parts.append(people.office(data["office_code"]))
        if parts:
            details.append(gettext("for: %(whom)s", whom=", ".join(parts)))
        if data.get("due_at"):
            details.append(gettext("deadline %(when)s", when=vocab.text("due_at", data["due_at"])))
    elif kind in ("task_claimed", "task_unclaimed", "task_delegated"):
        before = ev.before if isinstance(ev.before, dict) else {}
        old, new = before.get("assignee"), data.get("assignee")
        details.append(
            gettext(
                "assignee: %(old)s → %(new)s",
                old=people.name(old) if old else "—",
                new=people.name(new) if new else "—",
            )
        )
    elif kind == "task_completed":
        details += _values(vocab, ev.before, ev.after) or [gettext("no value changed")]
    elif kind in ("deadline_breached", "task_reminder", "timer_fired") and data.get("due_at"):
        details.append(gettext("deadline %(when)s", when=vocab.text("due_at", data["due_at"])))
    elif kind == "message_received":
        if data.get("message"):
            details.append(vocab.element_title(str(data["message"])))
        payload = data.get("payload")
        if isinstance(payload, dict):
            details += [f"{vocab.label(k)}: {vocab.text(k, v)}" for k, v in payload.items()]
    elif kind == "service_failed" and data.get("error"):
        details.append(str(data["error"]))
    elif kind == "incident":
        details.append(str(data.get("message", "")))
        if data.get("resolved_at"):
            details.append(gettext("resolved %(when)s", when=vocab.text("at", data["resolved_at"])))
        else:
            details.append(gettext("not resolved"))
    elif kind == "case_migrated":
        details += migration_details(ev.before, data)
    elif kind == "access_denied" and data.get("path"):
        details.append(str(data["path"]))
    elif kind in ("case_cancelled", "incident_retried"):
        details += incident_details(data)
    word = EVENT_WORDS.get(shown)
    element = titles.get(ev.task_guid or "") or vocab.element_title(ev.task_name)
    return Line(
        seq=ev.seq,
        at=local_time(ev.instant, seconds=True),
        who=people.who(ev.actor, ev.office_code),
        kind=shown,
        what=str(word) if word is not None else gettext("event %(code)s", code=kind),
        element=element,
        details=[d for d in details if d],
        hash=ev.hash,
        in_chain=ev.in_chain,
    )


def migration_details(before: Any, after: dict[str, Any]) -> list[str]:
    """A migration in words: the versions, and each deadline the new version changed."""
    old = before if isinstance(before, dict) else {}
    details = [
        gettext(
            "version %(old)s → %(new)s",
            old=old.get("version", "—"),
            new=after.get("version", "—"),
        )
    ]
    for deadline in after.get("deadlines") or []:
        if not isinstance(deadline, dict):
            continue
        details.append(
            gettext(
                "%(step)s: deadline %(old)s → %(new)s",
                step=deadline.get("name") or deadline.get("element") or "—",
                old=_instant_words(deadline.get("before")),
                new=_instant_words(deadline.get("after")),
            )
        )
    return details


def _instant_words(value: Any) -> str:
    """An ISO instant recorded in an event, as Almaty wall time ("—" when there is none)."""
    if not isinstance(value, str) or not value:
        return "—"
    try:
        return local_time(datetime.fromisoformat(value))
    except ValueError:
        return value


def _boundary_names(vocab: Vocabulary) -> set[str]:
    cached = getattr(vocab, "_boundary", None)
    if cached is None:
        from workflows.trace import boundary_timer_ids

        cached = boundary_timer_ids(vocab.definition)
        vocab._boundary = cached  # type: ignore[attr-defined]
    return cached


@dataclass
class DeadlineLine:
    title: str
    for_whom: str
    who: str
    due: str
    finished: str
    outcome: str
    outcome_word: str
    margin: str
    state: str
    task_name: str


def _deadline_line(d: DeadlineOutcome, people: Directory) -> DeadlineLine:
    margin = duration_text(d.margin)
    if d.outcome == "met":
        margin_text = gettext("%(span)s before the deadline", span=margin)
    elif d.outcome == "breached":
        late = gettext("late by %(span)s", span=margin)
        margin_text = late if not d.open else gettext("%(late)s, still open", late=late)
    elif d.outcome == "pending":
        margin_text = gettext("%(span)s left", span=margin)
    else:
        margin_text = ""
    parts = [role_label(d.role)] if d.role else []
    if d.office_code:
        parts.append(people.office(d.office_code))
    return DeadlineLine(
        title=translated(d.title, d.titles),
        for_whom=", ".join(parts),
        who=people.name(d.completed_by or d.assignee) if (d.completed_by or d.assignee) else "—",
        due=local_time(d.due_at),
        finished=local_time(d.finished_at),
        outcome=d.outcome,
        outcome_word=str(OUTCOME_WORDS[d.outcome]),
        margin=margin_text,
        state=task_state_label(d.state),
        task_name=d.task_name,
    )


def passes(trace: Trace, xml: str, locale: str) -> list[tuple[str, str, int]]:
    """(BPMN id, name, times passed) of every named element the case passed, in the order
    first passed, then those it waits at for the first time (0: "waits here")."""
    engine = _engine()
    path = engine.steps.inspect(trace.case.id, lambda workflow: path_taken(workflow, xml))
    _, elements = model_index(xml)
    out = []
    waiting = [i for i in path.waiting if i not in path.order]  # reached, not yet done
    for bpmn_id in [*path.order, *waiting]:
        element = elements.get(bpmn_id)
        name = element_name(element, locale) if element is not None else None
        if name:
            out.append((bpmn_id, name, path.counts.get(bpmn_id, 0)))
    return out


# -- the pages ----------------------------------------------------------------------------------


def _traceable(instance_id: int, what: str) -> Trace:
    """The case's trace, if the user may read it (workflows/rights.py: `may_trace`); the read
    (or its refusal) is recorded in the access log as `what`."""
    _record(what, instance_id)
    user = current_user.user
    checks = rights()
    if not user.has_role("auditor", "head"):
        abort_page(checks.may_trace(user, instance_id, None))  # 403 before any lookup
    try:
        view = _engine().runtime.get(instance_id)
    except NotFound:
        abort(404)
    refusal = checks.may_trace(user, instance_id, view.office_code)
    if refusal is not None:
        abort_page(refusal)
    return build_trace(_engine(), instance_id)


def trace_context(trace: Trace) -> dict[str, Any]:
    """Everything the page and the printable report show."""
    engine = _engine()
    locale = locale_code()
    definition = engine.repository.get(trace.case.definition_id)
    vocab = Vocabulary(definition, locale, current_app.extensions["nadzor.directory"])
    people = Directory(locale)
    titles = {t.task_guid: translated(t.title, t.titles) for t in trace.tasks}
    lines = [_line(ev, vocab, people, titles) for ev in trace.events]
    return {
        "trace": trace,
        "case": trace.case,
        "procedure": procedure_title(trace.case.process_id, locale),
        "version": trace.version,
        "published_at": local_time(trace.version.published_at),
        "published_by": people.name(trace.version.published_by),
        "started_by": people.who(trace.case.started_by),
        "office": people.office(trace.case.office_code),
        "lines": lines,
        "deadlines": [_deadline_line(d, people) for d in trace.deadlines],
        "passes": passes(trace, _main_bpmn(definition), locale),
        "now": local_time(trace.now),
        "proof": audit_proof.case_verification(engine, trace.case.id),
        "events_total": sum(1 for ev in trace.events if ev.in_chain),
        "count_text": format_number,
    }


@audit_trace.get("/audit/cases/<case:instance_id>")
@login_required
def trace_page(instance_id: int) -> Any:
    trace = _traceable(instance_id, "trace")
    return render_template("audit/trace.html", **trace_context(trace))


@audit_trace.get("/audit/cases/<case:instance_id>/report")
@login_required
def trace_report(instance_id: int) -> Any:
    """The printable report: the trace, the hashes and the covering checkpoint on paper."""
    trace = _traceable(instance_id, "export")
    ctx = trace_context(trace)
    ctx["proof_rows"] = audit_proof.proof_rows(audit_proof.export(_engine(), instance_id))
    return render_template("audit/trace_report.html", **ctx)


@audit_trace.get("/audit/cases/<case:instance_id>/export.json")
@login_required
def export_json(instance_id: int) -> Any:
    _traceable(instance_id, "export")
    doc = audit_proof.export(_engine(), instance_id)
    body = json.dumps(doc, ensure_ascii=False, indent=2, default=str)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="case-{instance_id}.json"'
    return response


@audit_trace.get("/audit/cases/<case:instance_id>/export.csv")
@login_required
def export_csv(instance_id: int) -> Any:
    trace = _traceable(instance_id, "export")
    ctx = trace_context(trace)
    doc = audit_proof.export(_engine(), instance_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "seq",
            "instant_utc",
            "time_almaty",
            "event_type",
            "event",
            "actor",
            "name",
            "role",
            "office",
            "element",
            "details",
            "prev_hash",
            "hash",
        ]
    )
    for ev, line in zip(trace.events, ctx["lines"], strict=True):
        if not ev.in_chain:
            continue
        writer.writerow(
            [
                ev.seq,
                ev.instant.isoformat(),
                line.at,
                ev.kind,
                line.what,
                ev.actor,
                line.who.name,
                line.who.role,
                line.who.office,
                line.element,
                "; ".join(line.details),
                ev.prev_hash,
                ev.hash,
            ]
        )
    for key, value in audit_proof.proof_rows(doc):
        writer.writerow(["#", key, value])
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="case-{instance_id}.csv"'
    return response


# -- the verification page ------------------------------------------------------------------------

audit_trace.add_app_template_global(audit_proof.signature_words, "signature_words")


@audit_trace.app_template_global("case_proof")
def case_proof(instance_id: int) -> dict[str, Any]:
    """The case's verification for the case page (auditors and heads see it there too)."""
    return audit_proof.case_verification(_engine(), instance_id)


@audit_trace.app_template_global("trigger_words")
def trigger_words(trigger: str | None) -> str:
    """Who ran a stored verification: the worker on its schedule, the CLI, or a person."""
    if trigger == "worker":
        return gettext("the worker, on its schedule")
    if trigger == "cli":
        return gettext("the command nadzor audit verify")
    if trigger and trigger.startswith("page:"):
        return Directory(locale_code()).name(trigger[5:])
    return trigger or "—"


def _verifier() -> None:
    refusal = rights().may_see_verification(current_user.user)
    if refusal is not None:
        abort_page(refusal)


@audit_trace.get("/audit/verification")
@login_required
def verification_page() -> Any:
    _verifier()
    engine = _engine()
    return render_template(
        "audit/verification.html",
        last=audit_proof.last_verification(engine),
        checkpoints=audit_proof.checkpoints(engine, 20),
    )


@audit_trace.post("/audit/verification")
@login_required
def verification_run() -> Any:
    """Verify the whole history now; writes only the verification's result."""
    _verifier()
    result = audit_proof.run_verification(_engine(), current_user.user.login)
    if result.get("ok"):
        flash(gettext("The history was verified: every chain and checkpoint holds."), "ok")
    else:
        flash(gettext("The verification found a problem; see below."), "error")
    back = request.form.get("case")
    if back and back.isdigit():
        return redirect(url_for("audit_trace.trace_page", instance_id=int(back)))
    return redirect(url_for("audit_trace.verification_page"))
