"""Case page: status, the case as a file (web/case_file.py), deadlines, the history in words,
and the diagram with the path taken.

The diagram is drawn by bpmn-js (served from web/static/vendor, built from npm at make time)
with markers on completed elements and on the open tasks.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template
from flask_login import current_user, login_required

from engine.errors import NotFound
from engine.tasks import TaskQuery
from workflows.catalogue import procedure_title

from .case_file import People, Vocabulary, build_file, history_lines
from .diagram import described_steps, element_name, localized_diagram, model_index, path_taken
from .i18n import local_time, locale_code, translated
from .ids import register_converters
from .labels import task_state_label
from .refusals import abort_page, rights
from .task_basis import task_basis

cases_ui = Blueprint("cases", __name__)
cases_ui.record(register_converters)  # web/ids.py: impossible ids are 404 before a query


def _engine() -> Any:
    return current_app.extensions["nadzor.engine"]


def _visible_case(instance_id: int) -> Any:
    """The case, if the user may read it (workflows/rights.py): without a reading role 403 for
    any id; missing or outside the scope the same 404 (the latter recorded as a denial)."""
    engine, user = _engine(), current_user.user
    checks = rights()
    refusal = checks.may_read_cases(user)
    if refusal is not None:
        abort_page(refusal)
    if instance_id > 2**63 - 1:  # 64-bit ids: a longer number names no case
        abort(404)
    try:
        view = engine.runtime.get(instance_id)
    except NotFound:
        abort(404)
    refusal = checks.may_read_case(user, instance_id, view.office_code)
    if refusal is not None:
        abort_page(refusal)
    return view


def _main_bpmn(definition: Any) -> str:
    """The version's file that defines its process (called processes travel beside it)."""
    marker = f'<bpmn:process id="{definition.process_id}"'
    for path, text in sorted(definition.files.items()):
        if path.endswith(".bpmn") and marker in text:
            return text
    abort(404)


def file_tools(definition: Any) -> tuple[Vocabulary, People]:
    """The version's labels and the people directory, in the user's language."""
    locale = locale_code()
    directory = current_app.extensions["nadzor.directory"]
    users = current_app.extensions["nadzor.users"]
    return Vocabulary(definition, locale, directory), People(users, directory, locale)


def deadline_mark(task: Any, now: Any) -> str:
    """`met`, `breached`, `pending` (open, not yet due) or `none` (the task has no deadline)."""
    if task.due_at is None:
        return "none"
    if task.completed_at is not None:
        return "met" if task.completed_at <= task.due_at else "breached"
    if task.state == "ready":
        return "pending" if now <= task.due_at else "breached"
    return "none"  # cancelled before its deadline counted


@cases_ui.get("/cases/<case:instance_id>")
@login_required
def case_page(instance_id: int) -> Any:
    view = _visible_case(instance_id)
    engine = _engine()
    tasks = engine.tasks.list(TaskQuery(instance_id=instance_id, state=None, limit=500))
    now = engine.clock.now()
    definition = engine.repository.get(view.definition_id)
    vocab, people = file_tools(definition)
    deadlines = [
        {
            "task": t,
            "title": translated(t.title, t.titles),
            # an open task says its ¶ and deadline rule (web/task_basis.py)
            "basis": task_basis(definition, t, locale_code()) if t.state == "ready" else None,
            "state": task_state_label(t.state),
            "due_local": local_time(t.due_at),
            "mark": deadline_mark(t, now),
            "reminded": t.reminded_at is not None,
        }
        for t in tasks
    ]
    events = engine.history.events(instance_id)
    titles = {t.task_guid: translated(t.title, t.titles) for t in tasks}
    return render_template(
        "cases/case.html",
        case=view,
        started_by=people.person(view.started_by),
        sections=build_file(
            vocab,
            people,
            engine.runtime.data(instance_id),
            events,
            tasks,
            view.started_by,
            view.created_at,
        ),
        deadlines=deadlines,
        history=history_lines(vocab, people, events, titles),
        procedure=procedure_title(view.process_id, locale_code()),
        breached=any(d["mark"] == "breached" for d in deadlines),
    )


@cases_ui.get("/cases/<case:instance_id>/diagram.bpmn")
@login_required
def case_diagram(instance_id: int) -> Any:
    """The version's model with every name in the user's language (web/diagram.py, cached per
    version and language); the Vary header keeps a shared cache from mixing languages."""
    view = _visible_case(instance_id)
    definition = _engine().repository.get(view.definition_id)
    xml = localized_diagram(_main_bpmn(definition), locale_code())
    response = Response(xml, mimetype="application/xml")
    response.headers["Content-Language"] = locale_code()
    response.vary.add("Cookie")
    return response


@cases_ui.app_template_global("case_diagram")
def case_diagram_view(view: Any) -> dict[str, Any]:
    """What the diagram marks and its text alternative, for templates/cases/_diagram.html: the
    path (elements and flows, with counts), where the case waits, and breached deadlines."""
    engine = _engine()
    xml = _main_bpmn(engine.repository.get(view.definition_id))
    path = engine.steps.inspect(view.id, lambda workflow: path_taken(workflow, xml))
    now = engine.clock.now()
    tasks = engine.tasks.list(TaskQuery(instance_id=view.id, state=None, limit=500))
    breached = sorted(
        {
            t.task_name
            for t in tasks
            if t.due_at is not None
            and t.state in ("ready", "completed")
            and (t.completed_at or now) > t.due_at
        }
    )
    late_open = {t.task_name for t in tasks if t.state == "ready" and t.task_name in breached}
    steps, _ = described_steps(path, xml, locale_code())
    _, elements = model_index(xml)
    waiting = [(element_name(elements[i], locale_code()), i in late_open) for i in path.waiting]
    return {
        "done": path.order,
        "counts": path.counts,
        "flows": path.flows,
        "current": path.waiting,
        "breached": breached,
        "steps": steps,
        "waiting": [(name, late) for name, late in waiting if name],
    }
