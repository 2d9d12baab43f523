"""Prosecutors' queues (server-rendered): my tasks, the office queue, overdue, due within 24 h,
reminders, and for heads the whole office; filters, saved filters, bulk reassignment.

Queues read the `human_task` index (and the indexed case attributes for filters) only; no
workflow is restored to draw a page.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required
from sqlalchemy import and_, case, func, select

from engine.errors import EngineError, NotFound
from engine.models import HumanTask
from engine.tasks import TaskQuery, TaskView
from workflows.catalogue import procedure_title
from workflows.rights import gravest
from workflows.scope import can_see_office, visible_offices
from workflows.workspace import FILTER_PARAMS, SavedFilters

from .i18n import local_time, locale_code, safe_path, time_left, translated
from .ids import register_converters
from .messages import error_text
from .refusals import abort_page, mark_denied, refusal_text, rights

tasks_ui = Blueprint("tasks", __name__)
tasks_ui.record(register_converters)  # web/ids.py: impossible ids are 404 before a query

QUEUES = {
    "mine": lazy_gettext("My tasks"),
    "office": lazy_gettext("Office queue"),
    "overdue": lazy_gettext("Overdue"),
    "soon": lazy_gettext("Due within 24 h"),
    "reminders": lazy_gettext("Reminders"),
    "team": lazy_gettext("All tasks of the office"),
}
HEAD_QUEUES = {"team"}
PAGE = 50
COUNT_CAP = 1000  # a queue counts this far, then shows "1000+"
SOON = timedelta(hours=24)


def engine() -> Any:
    return current_app.extensions["nadzor.engine"]


def _filters() -> SavedFilters:
    return current_app.extensions["nadzor.filters"]


def queue_query(queue: str) -> TaskQuery:
    """The queue's own rule; the user's filters narrow it further."""
    user = current_user.user
    now = engine().clock.now()
    office = TaskQuery(offices=[user.office_code], roles=list(user.roles), limit=PAGE)
    if queue == "mine":
        return TaskQuery(assignee=user.login, limit=PAGE)
    if queue == "office":
        return replace(office, unassigned=True)
    if queue == "overdue":
        return replace(office, due_before=now)
    if queue == "soon":
        return replace(office, due_after=now, due_before=now + SOON)
    if queue == "reminders":
        return replace(office, reminded=True, mine_or_unassigned=user.login)
    if queue == "team":
        return TaskQuery(offices=[user.office_code], limit=PAGE)
    abort(404)


def apply_filters(query: TaskQuery, params: Any) -> TaskQuery:
    if params.get("procedure"):
        query = replace(query, process_id=params["procedure"])
    if params.get("institution"):
        query = replace(query, attributes={"institution": params["institution"]})
    if params.get("q"):
        query = replace(query, text=params["q"][:100])
    return query


def task_row(task: TaskView, now: datetime) -> dict[str, Any]:
    due = task.due_at
    left = (due - now) if due else None
    return {
        "task": task,
        "title": translated(task.title, task.titles),
        "procedure": procedure_title(task.process_id, locale_code()),
        "due_local": local_time(due),
        "left": time_left(left) if left is not None else "",
        "breached": left is not None and left.total_seconds() <= 0,
        "soon": left is not None and timedelta(0) < left <= SOON,
        "reminded": task.reminded_at is not None,
    }


@tasks_ui.get("/")
@login_required
def index() -> Any:
    from .audit_search import is_auditor_only  # an auditor's start page is the audit search
    from .procedures_ui import is_methodologist_only  # a methodologist's: the Procedures area

    if is_methodologist_only(current_user.user):
        return redirect(url_for("procedures.procedure_list"))
    if is_auditor_only(current_user.user):
        return redirect(url_for("audit.search"))
    return redirect(url_for("tasks.queue", queue="office"))


@tasks_ui.get("/queue")
@login_required
def office_queue() -> Any:
    return queue("office")


@tasks_ui.get("/queue/<queue>")
@login_required
def queue(queue: str) -> Any:
    user = current_user.user
    if queue not in QUEUES:
        abort(404)
    if queue in HEAD_QUEUES and not user.has_role("head"):
        abort(403)
    params = {k: request.args.get(k, "").strip() for k in FILTER_PARAMS}
    query = apply_filters(queue_query(queue), params)
    try:
        page = max(int(request.args.get("page", 1)), 1)
    except ValueError:
        page = 1
    query.offset = (page - 1) * PAGE
    eng = engine()
    now = eng.clock.now()
    query.limit = PAGE + 1  # one more than shown tells whether a next page exists
    found = eng.tasks.list(query)
    rows = [task_row(t, now) for t in found[:PAGE]]
    total = eng.tasks.count(query, cap=COUNT_CAP + 1)
    more = total > COUNT_CAP
    pages = COUNT_CAP // PAGE if more else max((total + PAGE - 1) // PAGE, 1)
    directory = current_app.extensions["nadzor.directory"]
    locale = locale_code()
    procedures = sorted({d["process_id"] for d in eng.repository.list()})
    colleagues = []
    if queue == "team":
        users = current_app.extensions["nadzor.users"]
        colleagues = users.colleagues(user.office_code, "prosecutor", "head")
    active = {k: v for k, v in params.items() if v}
    return render_template(
        "tasks/queue.html",
        queue=queue,
        queues={k: v for k, v in QUEUES.items() if k not in HEAD_QUEUES or user.has_role("head")},
        rows=rows,
        page=page,
        pages=f"{max(pages, page)}+" if more else pages,
        has_next=len(found) > PAGE,
        total=f"{COUNT_CAP}+" if more else total,
        params=params,
        active=active,
        page_url=lambda n: url_for("tasks.queue", queue=queue, page=n, **active),
        procedures=[(p, procedure_title(p, locale)) for p in procedures],
        institutions=[
            (i.code, translated(i.name, i.names))
            for i in directory.institutions()
            if can_see_office(directory, user, i.district_office_code)
        ],
        saved=_filters().visible_to(user.login, user.office_code),
        colleagues=colleagues,
    )


@tasks_ui.post("/filters")
@login_required
def save_filter() -> Any:
    user = current_user.user
    queue = request.form.get("queue", "office")
    name = request.form.get("name", "").strip()[:100]
    if queue not in QUEUES:
        abort(400)
    params = {k: request.form.get(k, "").strip() for k in FILTER_PARAMS}
    if not name:
        flash(gettext("Give the filter a name."), "error")
    else:
        _filters().save(
            name=name,
            login=user.login,
            office_code=user.office_code,
            shared=request.form.get("shared") == "on",
            queue=queue,
            params=params,
            now=engine().clock.now(),
        )
        flash(gettext("Filter “%(name)s” saved.", name=name), "ok")
    kept = {k: v for k, v in params.items() if v}
    return redirect(url_for("tasks.queue", queue=queue, **kept))


@tasks_ui.post("/filters/<id:filter_id>/delete")
@login_required
def delete_filter(filter_id: int) -> Any:
    try:
        _filters().delete(filter_id, login=current_user.user.login)
    except NotFound:
        abort(403)
    flash(gettext("Filter deleted."), "ok")
    return redirect(safe_next(request.referrer))


@tasks_ui.post("/tasks/reassign")
@login_required
def reassign() -> Any:
    """A head hands several tasks of the office to one colleague at once: all or nothing.

    Every task is checked first (workflows/rights.py, as the API's bulk route does); if any
    cannot be reassigned, nothing is, and the team queue says which tasks and why, answered
    with the status the API gives (403, 404, 409 or 422). Then all move in one transaction.
    """
    user = current_user.user
    checks = rights()
    if not user.has_role("head"):
        abort_page(checks.may_reassign(user, {}, None)[0])
    to = request.form.get("assignee", "")
    eng = engine()
    found: dict[str, TaskView | None] = {}
    for guid in dict.fromkeys(request.form.getlist("task")):
        try:
            found[guid] = eng.tasks.get(guid)
        except NotFound:
            found[guid] = None
    refusals = checks.may_reassign(user, found, to)
    if not refusals:
        try:
            eng.tasks.reassign_many(list(found), to, actor=user.login, office_code=user.office_code)
        except EngineError as exc:
            flash(gettext("Nothing was reassigned."), "error")
            flash(error_text(exc), "error")
            return queue("team"), 409
        who = current_app.extensions["nadzor.users"].get(to).name
        flash(gettext("%(n)s task(s) handed to %(who)s.", n=len(found), who=who), "ok")
        return redirect(safe_next(request.referrer or url_for("tasks.queue", queue="team")))
    worst = gravest(refusals)
    assert worst is not None
    for r in refusals:
        mark_denied(r)
    flash(gettext("Nothing was reassigned."), "error")
    texts = []
    for r in refusals:
        task = found.get(r.task_id or "")
        title = translated(task.title, task.titles) if task is not None else None
        text = refusal_text(r, title)
        if r.code == "task_missing":
            text = gettext("Task %(id)s: %(reason)s", id=r.task_id, reason=text)
        texts.append(text)
    for text in dict.fromkeys(texts):  # one line per distinct reason
        flash(text, "error")
    return queue("team"), worst.status


def safe_next(target: str | None) -> str:
    """Where to go back to: a path of this site only (never another host)."""
    parts = urlsplit(target or "")
    path = parts.path + ("?" + parts.query if parts.query else "")
    return safe_path(path) or url_for("tasks.index")


# -- heads' overview --------------------------------------------------------------------------

OVERVIEW_PAGE = 50


@dataclass
class OfficeCounts:
    """One office's line of the overview: its open tasks and how many are short of time."""

    code: str
    name: str
    depth: int  # 0: the head's own office, 1: an office below it, ...
    open: int = 0
    soon: int = 0
    breached: int = 0


def overview_offices(user: Any) -> list[tuple[str, str, int]]:
    """(code, name in the user's language, depth) of every office the head oversees, his own
    first, each followed by the offices below it, names in alphabetical order."""
    directory = current_app.extensions["nadzor.directory"]
    visible = visible_offices(directory, user)
    by_parent: dict[str | None, list[Any]] = {}
    for office in directory.offices():
        if office.code in visible:
            by_parent.setdefault(office.parent_code, []).append(office)
    out: list[tuple[str, str, int]] = []

    def walk(office: Any, depth: int) -> None:
        out.append((office.code, translated(office.name, office.names), depth))
        children = by_parent.get(office.code, [])
        for child in sorted(children, key=lambda o: translated(o.name, o.names)):
            walk(child, depth + 1)

    own = directory.office(user.office_code)
    if own is not None:
        walk(own, 0)
    return out


def overview_counts(
    offices: list[str], process_id: str | None, now: datetime
) -> dict[str, tuple[int, int, int]]:
    """Office -> (open, due within 24 h, breached) over the `human_task` index, one grouped
    query (no workflow is restored)."""
    c = HumanTask.__table__.c
    soon = func.sum(case((and_(c.due_at > now, c.due_at <= now + SOON), 1), else_=0))
    breached = func.sum(case((c.due_at <= now, 1), else_=0))
    stmt = (
        select(c.office_code, func.count(), soon, breached)
        .where(c.state == "ready", c.office_code.in_(offices))
        .group_by(c.office_code)
    )
    if process_id:
        stmt = stmt.where(c.process_id == process_id)
    with engine().db.read() as conn:
        return {r[0]: (int(r[1]), int(r[2] or 0), int(r[3] or 0)) for r in conn.execute(stmt)}


@tasks_ui.get("/overview")
@login_required
def overview() -> Any:
    """A head's view of open and breached deadlines in his office and the offices below it
    (a regional head: his office and its districts; the GP head: every office), counted by
    office and listed with filters, each row linking to its task and case."""
    user = current_user.user
    if not user.has_role("head"):
        abort(403)
    eng = engine()
    now = eng.clock.now()
    locale = locale_code()
    offices = overview_offices(user)
    names = {code: name for code, name, _depth in offices}
    procedures = sorted({d["process_id"] for d in eng.repository.list()})
    params = {k: request.args.get(k, "").strip() for k in ("office", "procedure", "breached")}
    if params["office"] not in names:
        params["office"] = ""  # an office outside the head's scope is no filter, not a leak
    if params["procedure"] not in procedures:
        params["procedure"] = ""
    params["breached"] = "1" if params["breached"] == "1" else ""
    counts = overview_counts(list(names), params["procedure"] or None, now)
    lines = [
        OfficeCounts(code, name, depth, *counts.get(code, (0, 0, 0)))
        for code, name, depth in offices
    ]
    query = TaskQuery(
        offices=[params["office"]] if params["office"] else list(names),
        process_id=params["procedure"] or None,
        due_before=now if params["breached"] else None,
    )
    try:
        page = max(int(request.args.get("page", 1)), 1)
    except ValueError:
        page = 1
    query.offset = (page - 1) * OVERVIEW_PAGE
    query.limit = OVERVIEW_PAGE + 1
    found = eng.tasks.list(query)
    total = eng.tasks.count(query, cap=COUNT_CAP + 1)
    more = total > COUNT_CAP
    pages = COUNT_CAP // OVERVIEW_PAGE if more else max(-(-total // OVERVIEW_PAGE), 1)
    users = current_app.extensions["nadzor.users"]
    people: dict[str, str] = {}
    rows = []
    for task in found[:OVERVIEW_PAGE]:
        row = task_row(task, now)
        row["office"] = names.get(task.office_code or "", task.office_code or "—")
        if task.assignee and task.assignee not in people:
            try:
                people[task.assignee] = users.get(task.assignee).name
            except NotFound:
                people[task.assignee] = task.assignee
        row["assignee"] = people.get(task.assignee or "", "")
        rows.append(row)
    active = {k: v for k, v in params.items() if v}
    return render_template(
        "tasks/overview.html",
        lines=lines,
        totals=OfficeCounts(
            "", "", 0, *(sum(getattr(x, k) for x in lines) for k in ("open", "soon", "breached"))
        ),
        rows=rows,
        params=params,
        active=active,
        offices=offices,
        procedures=[(p, procedure_title(p, locale)) for p in procedures],
        page=page,
        pages=f"{max(pages, page)}+" if more else pages,
        has_next=len(found) > OVERVIEW_PAGE,
        total=f"{COUNT_CAP}+" if more else total,
        page_url=lambda n: url_for("tasks.overview", page=n, **active),
        filter_url=lambda **kw: url_for("tasks.overview", **{**active, **kw, "page": None}),
    )
