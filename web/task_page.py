"""The task page: the task's form beside the case's data, drafts, and claim / unclaim /
delegate. A failed rule shows per field and completes nothing; a draft keeps what was typed."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from engine.errors import EngineError, NotFound
from engine.tasks import TaskQuery, TaskView
from workflows.scope import READ_ROLES, can_see_office
from workflows.workspace import Drafts

from .forms import field_labels, fields_of, parse, raw_values
from .i18n import local_time, locale_code, translated
from .messages import error_text
from .tasks_ui import engine, safe_next, task_row, tasks_ui


def _drafts() -> Drafts:
    return current_app.extensions["nadzor.drafts"]


def _visible(task_id: str) -> TaskView:
    try:
        task = engine().tasks.get(task_id)
    except NotFound:
        abort(404)
    directory = current_app.extensions["nadzor.directory"]
    user = current_user.user
    if not user.has_role(*READ_ROLES) or not can_see_office(directory, user, task.office_code):
        abort(403)
    return task


def _may_work_on(task: TaskView) -> bool:
    user = current_user.user
    return task.office_code == user.office_code and user.has_role(task.role or "", "head")


def _earlier_decisions(task: TaskView) -> list[dict[str, Any]]:
    eng = engine()
    done = eng.tasks.list(TaskQuery(instance_id=task.instance_id, state="completed", limit=100))
    return [
        {
            "title": translated(t.title, t.titles),
            "by": t.completed_by,
            "at": local_time(t.completed_at),
        }
        for t in sorted(done, key=lambda t: t.completed_at or t.created_at)
    ]


@tasks_ui.route("/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def task_page(task_id: str) -> Any:
    eng, user = engine(), current_user.user
    task = _visible(task_id)
    definition = eng.repository.get(eng.runtime.get(task.instance_id).definition_id)
    fields = fields_of(definition.form(task.form), locale_code())
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
            return redirect(url_for("tasks.task_page", task_id=task_id))
        values, errors = parse(fields, request.form)
        if not errors:
            try:
                eng.tasks.complete(task_id, values, actor=user.login, office_code=user.office_code)
            except EngineError as exc:
                flash(error_text(exc, translated(task.title, task.titles)), "error")
                status = 409
            else:
                _drafts().discard(task_id)
                flash(
                    gettext(
                        "Task “%(title)s” completed.", title=translated(task.title, task.titles)
                    ),
                    "ok",
                )
                return redirect(url_for("tasks.queue", queue="office"))
        else:
            status = 422
            values = raw_values(fields, request.form)
    elif draft is not None:
        values = draft.data
    colleagues = []
    if task.state == "ready" and _may_work_on(task):
        users = current_app.extensions["nadzor.users"]
        colleagues = [
            u
            for u in users.colleagues(user.office_code, task.role or "", "head")
            if u.login != task.assignee
        ]
    return render_template(
        "tasks/task.html",
        task=task,
        row=task_row(task, eng.clock.now()),
        fields=fields,
        values={**case_data, **values},
        errors=errors,
        case_data=case_data,
        draft=draft if request.method == "GET" else None,
        draft_time=local_time(draft.saved_at) if draft else "",
        decisions=_earlier_decisions(task),
        colleagues=colleagues,
        may_work=_may_work_on(task),
        labels=field_labels(definition, locale_code()),
    ), status


@tasks_ui.post("/tasks/<task_id>/<action>")
@login_required
def act(task_id: str, action: str) -> Any:
    eng, user = engine(), current_user.user
    task = _visible(task_id)
    if not _may_work_on(task):
        abort(403)
    title = translated(task.title, task.titles)
    try:
        if action == "claim":
            eng.tasks.claim(task_id, actor=user.login, office_code=user.office_code)
            flash(gettext("Task “%(title)s” is yours now.", title=title), "ok")
        elif action == "unclaim":
            if task.assignee not in (None, user.login) and not user.has_role("head"):
                abort(403)
            eng.tasks.unclaim(task_id, actor=user.login, office_code=user.office_code)
            flash(gettext("Task “%(title)s” went back to the office queue.", title=title), "ok")
        elif action == "delegate":
            if task.assignee not in (None, user.login) and not user.has_role("head"):
                abort(403)
            users = current_app.extensions["nadzor.users"]
            to = request.form.get("assignee", "")
            allowed = {u.login: u for u in users.colleagues(user.office_code, task.role or "")}
            if to not in allowed:
                flash(gettext("Choose a colleague of your office who handles such tasks."), "error")
            else:
                eng.tasks.delegate(task_id, to, actor=user.login, office_code=user.office_code)
                flash(
                    gettext(
                        "Task “%(title)s” handed to %(who)s.", title=title, who=allowed[to].name
                    ),
                    "ok",
                )
        else:
            abort(404)
    except EngineError as exc:
        flash(error_text(exc, title), "error")
    return redirect(safe_next(request.form.get("next") or request.referrer))
