"""The task page: the task's form beside the case's data, drafts, and claim / unclaim /
delegate. A failed rule shows per field and completes nothing; a draft keeps what was typed."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from engine.errors import DataRejected, EngineError, NotFound, ValidationFailed
from engine.tasks import TaskQuery, TaskView
from workflows.workspace import Drafts

from .case_file import People, Section, Vocabulary, build_file
from .cases_ui import file_tools
from .choices import with_body_choices
from .forms import coerce, data_rejected_text, field_labels, fields_of, problem_texts, raw_values
from .i18n import local_time, locale_code, translated
from .messages import error_text
from .quarterly_ui import quarter_panel
from .refusals import abort_page, refusal_text, rights
from .task_basis import task_basis
from .tasks_ui import engine, safe_next, task_row, tasks_ui


def _drafts() -> Drafts:
    return current_app.extensions["nadzor.drafts"]


def _visible(task_id: str) -> TaskView:
    """The task, if the user may read it (workflows/rights.py): without a reading role 403 for
    any id; outside the scope 404, exactly as a missing task."""
    checks, user = rights(), current_user.user
    refusal = checks.may_read_cases(user)
    if refusal is not None:
        abort_page(refusal)
    try:
        task = engine().tasks.get(task_id)
    except NotFound:
        abort(404)
    refusal = checks.may_read(user, task)
    if refusal is not None:
        abort_page(refusal)
    return task


def _may_work_on(task: TaskView) -> bool:
    """Whether the user may complete the task (its role in its office, or a head there)."""
    return rights().may_complete(current_user.user, task) is None


def _earlier_decisions(task: TaskView, people: People) -> list[dict[str, Any]]:
    eng = engine()
    done = eng.tasks.list(TaskQuery(instance_id=task.instance_id, state="completed", limit=100))
    return [
        {
            "title": translated(t.title, t.titles),
            "by": people.person(t.completed_by),
            "at": local_time(t.completed_at),
        }
        for t in sorted(done, key=lambda t: t.completed_at or t.created_at)
    ]


def _finished(task: TaskView, definition: Any, vocab: Vocabulary, people: People) -> Any:
    """A closed task read-only: what its completion submitted (from its `task_completed` audit
    event, web/case_file.py), by whom and when; a cancelled task says when it was cancelled."""
    if task.state == "ready":
        return None
    eng = engine()
    if task.state != "completed":
        cancelled = [
            e
            for e in eng.history.events(task.instance_id)
            if e["event_type"] == "task_cancelled" and e.get("task_guid") == task.task_guid
        ]
        return Section(
            translated(task.title, task.titles),
            [],
            by=str(people.person(cancelled[0]["actor"])) if cancelled else "",
            at=local_time(cancelled[0]["instant"]) if cancelled else "",
            kind="cancelled",
            task_guid=task.task_guid,
        )
    data, events = eng.runtime.data(task.instance_id), eng.history.events(task.instance_id)
    sections = build_file(vocab, people, data, events, [task], None, None)
    return next(s for s in sections if s.task_guid == task.task_guid)


def _case_entries(vocab: Vocabulary, people: People, case_data: dict[str, Any]) -> list[Any]:
    """The open case's labelled data in words, beside the form (no engine variables)."""
    sections = build_file(vocab, people, case_data, [], [], None, None)
    return [entry for section in sections for entry in section.entries]


@tasks_ui.route("/tasks/<task:task_id>", methods=["GET", "POST"])
@login_required
def task_page(task_id: str) -> Any:
    eng, user = engine(), current_user.user
    task = _visible(task_id)
    definition = eng.repository.get(eng.runtime.get(task.instance_id).definition_id)
    fields = with_body_choices(
        fields_of(definition.form(task.form), locale_code()),
        current_app.extensions["nadzor.directory"],
    )
    case_data = eng.runtime.data(task.instance_id) if task.state == "ready" else {}
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    status = 200
    draft = _drafts().get(task_id, user.login)
    if request.method == "POST":
        if not _may_work_on(task):
            abort(403)
        if request.form.get("action") == "draft":
            _drafts().save(task_id, user.login, raw_values(fields, request.form), eng.clock.now())
            flash(gettext("Draft saved. It will be here when you come back."), "ok")
            session["draft_just_saved"] = task_id  # the page after this says "saved" only
            return redirect(url_for("tasks.task_page", task_id=task_id))
        title = translated(task.title, task.titles)
        try:  # the engine applies the form's rules, as for every API call
            submitted = coerce(fields, request.form, request.files)  # files: multipart
            eng.tasks.complete(task_id, submitted, actor=user.login, office_code=user.office_code)
        except ValidationFailed as exc:
            errors, status = problem_texts(exc, fields), 422
            values = raw_values(fields, request.form)
        except DataRejected as exc:
            flash(data_rejected_text(exc), "error")
            status, values = 422, raw_values(fields, request.form)
        except EngineError as exc:
            flash(error_text(exc, title), "error")
            status, values = 409, raw_values(fields, request.form)
        else:
            _drafts().discard(task_id)
            flash(gettext("Task “%(title)s” completed.", title=title), "ok")
            return redirect(url_for("tasks.queue", queue="office"))
    elif draft is not None:
        values = draft.data
    # "Restored your draft" is for a later visit, not for the page right after saving it.
    just_saved = session.pop("draft_just_saved", None) == task_id
    colleagues = []
    checks = rights()
    ready = task.state == "ready"
    # Buttons only for what the user may do (workflows/rights.py); Complete also not on a task
    # someone else holds, which the engine would refuse (a head releases or hands it over).
    may_claim = ready and task.assignee is None and checks.may_claim(user, task) is None
    may_release = ready and task.assignee is not None and checks.may_unclaim(user, task) is None
    may_work = ready and task.assignee in (None, user.login) and _may_work_on(task)
    if ready and checks.may_delegate(user, task, user.login) is None:
        users = current_app.extensions["nadzor.users"]
        colleagues = [
            u
            for u in users.colleagues(task.office_code or "", task.role or "", "head")
            if u.login not in (task.assignee, user.login) and checks.may_take(u.login, task) is None
        ]
    vocab, people = file_tools(definition)
    return render_template(
        "tasks/task.html",
        task=task,
        row=task_row(task, eng.clock.now()),
        fields=fields,
        values={**case_data, **values},
        errors=errors,
        case_data=case_data,
        draft=draft if request.method == "GET" and not just_saved else None,
        draft_time=local_time(draft.saved_at) if draft else "",
        decisions=_earlier_decisions(task, people),
        finished=_finished(task, definition, vocab, people),
        case_file=_case_entries(vocab, people, case_data),
        assignee=people.person(task.assignee) if task.assignee else None,
        colleagues=colleagues,
        may_work=may_work,
        may_claim=may_claim,
        may_release=may_release,
        labels=field_labels(definition, locale_code()),
        readonly_texts=_readonly_texts(fields, case_data, vocab),
        basis=task_basis(definition, task, locale_code()),  # its ¶ and deadline rule
        quarter=quarter_panel(task),  # quarterly_report: figures, districts (web/quarterly_ui.py)
    ), status


def _readonly_texts(
    fields: list[Any], case_data: dict[str, Any], vocab: Vocabulary
) -> dict[str, str]:
    """What the form's read-only fields show, in words of the user's language: offices and the
    institution by name (the case stores the institution's Russian name as a fact, so it is
    named again from its code), option labels, local dates."""
    texts: dict[str, str] = {}
    for f in fields:
        if not f.readonly or f.type == "checkbox":
            continue
        if f.key == "institution_name" and case_data.get("institution"):
            texts[f.key] = vocab.text("institution", case_data["institution"])
        else:
            texts[f.key] = vocab.text(f.key, case_data.get(f.key))
    return texts


@tasks_ui.post("/tasks/<task:task_id>/<action>")
@login_required
def act(task_id: str, action: str) -> Any:
    """Claim, release or hand over: the rule of workflows/rights.py, as the API asks it. Out of
    scope or forbidden is the error page (404 / 403); a refusal about the task's state or the
    chosen colleague is said on the page the user came from."""
    eng, user = engine(), current_user.user
    if action not in ("claim", "unclaim", "delegate"):
        abort(404)
    task = _visible(task_id)
    checks = rights()
    title = translated(task.title, task.titles)
    to = request.form.get("assignee", "")
    if action == "claim":
        refusal = checks.may_claim(user, task)
    elif action == "unclaim":
        refusal = checks.may_unclaim(user, task)
    else:
        refusal = checks.may_delegate(user, task, to)
    back = redirect(safe_next(request.form.get("next") or request.referrer))
    if refusal is not None:
        if refusal.kind in ("hidden", "forbidden"):
            abort_page(refusal)
        flash(refusal_text(refusal, title), "error")
        return back
    try:
        if action == "claim":
            eng.tasks.claim(task_id, actor=user.login, office_code=user.office_code)
            flash(gettext("Task “%(title)s” is yours now.", title=title), "ok")
        elif action == "unclaim":
            eng.tasks.unclaim(task_id, actor=user.login, office_code=user.office_code)
            flash(gettext("Task “%(title)s” went back to the office queue.", title=title), "ok")
        else:
            eng.tasks.delegate(task_id, to, actor=user.login, office_code=user.office_code)
            who = current_app.extensions["nadzor.users"].get(to).name
            flash(gettext("Task “%(title)s” handed to %(who)s.", title=title, who=who), "ok")
    except EngineError as exc:
        flash(error_text(exc, title), "error")
    return back
