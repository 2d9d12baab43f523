"""Prosecutors' queues (server-rendered): my tasks, the office queue, overdue, due within 24 h.

Queues read the `human_task` index only; no workflow is restored to draw a page.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from engine.calendar import to_local
from engine.errors import EngineError
from engine.tasks import TaskQuery, TaskView
from workflows.scope import can_see_office

from .forms import fields_of, parse

tasks_ui = Blueprint("tasks", __name__)

QUEUES = {
    "mine": "Мои задачи",
    "office": "Очередь прокуратуры",
    "overdue": "Просроченные",
    "soon": "Срок в течение 24 ч",
}
PAGE = 50


def _engine() -> Any:
    return current_app.extensions["nadzor.engine"]


def _query(queue: str) -> TaskQuery:
    user = current_user.user
    now = _engine().clock.now()
    query = TaskQuery(offices=[user.office_code], roles=list(user.roles), limit=PAGE)
    if queue == "mine":
        query = TaskQuery(assignee=user.login, limit=PAGE)
    elif queue == "office":
        query.unassigned = True
    elif queue == "overdue":
        query.due_before = now
    elif queue == "soon":
        query.due_before = now + timedelta(hours=24)
    return query


def _row(task: TaskView, now: datetime) -> dict[str, Any]:
    due = task.due_at
    left = (due - now) if due else None
    return {
        "task": task,
        "due_local": to_local(due).strftime("%d.%m.%Y %H:%M") if due else "",
        "left": _describe(left) if left is not None else "",
        "breached": left is not None and left.total_seconds() <= 0,
        "soon": left is not None and timedelta(0) < left <= timedelta(hours=24),
    }


def _describe(left: timedelta) -> str:
    seconds = int(abs(left.total_seconds()))
    hours, minutes = divmod(seconds // 60, 60)
    text = f"{hours // 24} д {hours % 24} ч" if hours >= 24 else f"{hours} ч {minutes} мин"
    return f"просрочено на {text}" if left.total_seconds() <= 0 else f"осталось {text}"


@tasks_ui.get("/")
@login_required
def index() -> Any:
    return redirect(url_for("tasks.office_queue"))


@tasks_ui.get("/queue/<queue>")
@login_required
def queue(queue: str) -> Any:
    if queue not in QUEUES:
        abort(404)
    query = _query(queue)
    page = max(int(request.args.get("page", 1)), 1)
    query.offset = (page - 1) * PAGE
    if request.args.get("procedure"):
        query.process_id = request.args["procedure"]
    engine = _engine()
    now = engine.clock.now()
    rows = [_row(t, now) for t in engine.tasks.list(query)]
    total = engine.tasks.count(query)
    return render_template(
        "tasks/queue.html",
        queue=queue,
        queues=QUEUES,
        rows=rows,
        page=page,
        pages=max((total + PAGE - 1) // PAGE, 1),
        total=total,
    )


@tasks_ui.get("/queue")
@login_required
def office_queue() -> Any:
    return queue("office")


@tasks_ui.route("/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def task_page(task_id: str) -> Any:
    """The task's form beside the case's data; a failed rule shows per field, completes nothing."""
    engine, user = _engine(), current_user.user
    task = engine.tasks.get(task_id)
    directory = current_app.extensions["nadzor.directory"]
    if not can_see_office(directory, user, task.office_code):
        abort(403)
    definition = engine.repository.get(engine.runtime.get(task.instance_id).definition_id)
    fields = fields_of(definition.form(task.form))
    case_data = engine.runtime.data(task.instance_id)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        if task.office_code != user.office_code or not user.has_role(task.role or "", "head"):
            abort(403)
        values, errors = parse(fields, request.form)
        if not errors:
            try:
                engine.tasks.complete(
                    task_id, values, actor=user.login, office_code=user.office_code
                )
            except EngineError as exc:
                flash(str(exc), "error")
                status = 409
            else:
                flash(f"Задача «{task.title}» выполнена.", "ok")
                return redirect(url_for("tasks.office_queue"))
        else:
            status = 422
    shown = {**case_data, **values}
    return render_template(
        "tasks/task.html",
        task=task,
        row=_row(task, engine.clock.now()),
        fields=fields,
        values=shown,
        errors=errors,
        case_data=case_data,
    ), status


@tasks_ui.post("/tasks/<task_id>/<action>")
@login_required
def act(task_id: str, action: str) -> Any:
    engine, user = _engine(), current_user.user
    task = engine.tasks.get(task_id)
    if task.office_code != user.office_code or not user.has_role(task.role or "", "head"):
        abort(403)
    try:
        if action == "claim":
            engine.tasks.claim(task_id, actor=user.login, office_code=user.office_code)
            flash(f"Задача «{task.title}» взята в работу.", "ok")
        elif action == "unclaim":
            engine.tasks.unclaim(task_id, actor=user.login, office_code=user.office_code)
            flash(f"Задача «{task.title}» возвращена в очередь.", "ok")
        else:
            abort(404)
    except EngineError as exc:
        flash(str(exc), "error")
    return redirect(request.referrer or url_for("tasks.office_queue"))
