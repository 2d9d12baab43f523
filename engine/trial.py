"""Try a model before publishing it: the real engine starts one case of it and forgets it.

A methodologist who changed a timer or a lane wants to see, before publishing, which tasks a
case would get, which offices their lanes resolve to, when its timers fall due and which
elements it ran through. Only the engine that will run the published version can answer that
truthfully, so the trial runs the real `StepRunner.start` — with the engine's organization (the
real offices and institutions), its start-form rules, data limits, model functions and CPU
limits — for the parsed, unpublished model, on the clock the caller chooses.

Nothing persists: the trial opens one write transaction, inserts a definition row for the
draft inside it (a case row needs one), starts the case (the step's own transaction joins the
outer one under a savepoint, `Database.write`), reads back the `human_task` and `timer` rows
the step projected — exactly what a queue would show — and rolls everything back: case,
tasks, timers, audit events, attachments, incident rows. No outside system is called: service
tasks reach a handler that refuses every call, so the case stops there (status
`stopped_at_service`) as it would while the outside system is down. The trial has its own
workflow cache and script engine, so nothing of it is left in the engine's shared caches (a
rolled-back case id may be reused by a real case later).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, insert, select

from .calendar import preload as preload_calendar
from .clock import FakeClock
from .errors import (
    Busy,
    DataRejected,
    EngineError,
    InvalidOperation,
    ModelError,
    ScriptFailed,
    ServiceCallFailed,
    UnsafeCode,
    ValidationFailed,
)
from .models import Definition, HumanTask, ProcessInstance, Timer
from .repository import LoadedDefinition, ParsedModel, form_path
from .safety.script_engine import make_script_engine
from .safety.xmlparse import parse_xml
from .schedules import Occurrence, _is_timer_start, schedules_of
from .step import StepRunner, WorkflowCache

if TYPE_CHECKING:
    from .engine import Engine

definition_table = Definition.__table__
instance_table = ProcessInstance.__table__
task_table = HumanTask.__table__
timer_table = Timer.__table__

#: who a trial case is started by (never stored: the case is rolled back)
TRIAL_ACTOR = "trial"


class _RollBack(Exception):
    """Ends the trial's transaction: raised after the results were read, always."""


class _TrialServices:
    """Stands in for the service registry: refuses every call, remembering which it refused,
    so a trial never reaches an outside system (the pre-trial register, the figures)."""

    def __init__(self) -> None:
        self.refused: list[str] = []

    def __call__(self, context: dict[str, Any], **kwargs: Any) -> str:
        name = kwargs.get("operation_name") or "?"
        self.refused.append(str(name))
        raise ServiceCallFailed(f"service '{name}' is not called in a trial")


def try_files(
    engine: Engine, files: dict[str, str], main: str, *, now: datetime, data: dict[str, Any]
) -> dict[str, Any]:
    """Validate a file set held in memory (a draft) and try it: the CLI JSON (see module)."""
    try:
        model = engine.repository.parse_files(files, main)
    except ModelError as exc:
        return _model_failure(exc)
    return try_model(engine, model, now=now, data=data)


def try_path(engine: Engine, path: Path, *, now: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """Validate the model in `path` (with its folder's forms and tables) and try it."""
    try:
        model = engine.repository.parse_file(Path(path))
    except ModelError as exc:
        return _model_failure(exc)
    return try_model(engine, model, now=now, data=data)


def try_model(
    engine: Engine, model: ParsedModel, *, now: datetime, data: dict[str, Any]
) -> dict[str, Any]:
    """Start one case of the parsed `model` at `now` with `data`, report it, keep nothing.

    Returns `{"ok": true, "process_id", "status", "tasks", "timers", "path"}` — status
    `waiting` (open tasks, timers or messages), `completed`, or `stopped_at_service` — or
    `{"ok": false, "error", "line", "element_id", "file", "element_name"}` when the start data
    breaks the start form (+ `fields`: each offending field's message, `problems`: its code
    and parameters) or a script of the model fails during the trial (the element where it
    failed).
    """
    if now.tzinfo is None:
        raise ValueError("a trial needs an aware instant")
    if not isinstance(data, dict):
        return _failure("the start data must be a JSON object of field names and values")
    clock = FakeClock(now)
    preload_calendar(clock.now().year)  # a year the engine did not load at its start
    services = _TrialServices()
    env = engine.script_engine.environment
    runner = StepRunner(
        engine.db,
        engine.repository,
        engine.serializer,
        clock,
        engine.organization,
        make_script_engine(
            functions=env.functions,
            service_handler=services,
            script_cpu_s=env.time_limit_s,
            expression_cpu_s=env.expression_limit_s,
        ),
        WorkflowCache(4),  # its own: a rolled-back case's id may be a real case's tomorrow
        engine.steps.case_attributes,
    )
    runner.step_cpu_s = engine.steps.step_cpu_s
    result: dict[str, Any] = {}
    try:
        with engine.db.write() as conn:
            definition = _trial_definition(conn, model)
            start_event = _calendar_start(definition)
            start_data = dict(data)
            if start_event is not None:  # a calendar-only procedure starts as its calendar does
                start_data = _calendar_data(engine, definition, start_event, start_data, clock)
            instance_id = runner.start(
                definition, start_data, TRIAL_ACTOR, None, start_event=start_event
            )
            result = _report(conn, runner, definition, instance_id, services)
            raise _RollBack
    except _RollBack:
        return result
    except ValidationFailed as exc:
        return _data_failure(exc, model)
    except (DataRejected, InvalidOperation) as exc:
        return _failure(str(exc), **_start_element(model))
    except Busy:
        raise  # the database stayed locked: the caller says "try again", not "model broken"
    except (ScriptFailed, UnsafeCode, EngineError) as exc:
        return _script_failure(exc, model)


# -- inside the trial's transaction ---------------------------------------------------------------


def _trial_definition(conn: Any, model: ParsedModel) -> LoadedDefinition:
    """The draft as a definition the runner can start, with a row that the rollback removes.

    The case sees the version publishing would give the draft; the row itself carries a
    negative number of its own, so that the unique (process, version) key never makes a
    publisher or another trial of the same procedure wait for this transaction (PostgreSQL
    waits on an uncommitted duplicate key), and a sha256 marker of its own.
    """
    version = (
        conn.execute(
            select(func.max(definition_table.c.version)).where(
                definition_table.c.process_id == model.process_id
            )
        ).scalar()
        or 0
    ) + 1
    new_id = conn.execute(
        insert(definition_table).values(
            process_id=model.process_id,
            version=-(uuid.uuid4().int % 2**31) - 1,
            sha256="trial-" + uuid.uuid4().hex,
            title=model.title[:500],
            documentation="",
            files={},
            spec_json="",
            published_at=datetime.now(UTC),
            published_by=TRIAL_ACTOR,
        )
    ).inserted_primary_key[0]
    return LoadedDefinition(
        id=new_id,
        process_id=model.process_id,
        version=version,
        sha256=model.sha256,
        title=model.title,
        files=model.files,
        spec=model.spec,
        subprocess_specs=model.subprocess_specs,
    )


def _calendar_start(definition: LoadedDefinition) -> str | None:
    """The first timer start event of a procedure that starts on its calendar only (None: it
    has a start a person uses, which the trial takes like a person's start)."""
    starts = [s for s in definition.spec.task_specs.values() if isinstance(s, StartEvent)]
    timers = sorted(s.bpmn_id for s in starts if _is_timer_start(s))
    if timers and len(timers) == len(starts):
        return timers[0]
    return None


def _calendar_data(
    engine: Engine,
    definition: LoadedDefinition,
    start_event: str,
    data: dict[str, Any],
    clock: FakeClock,
) -> dict[str, Any]:
    """The data a scheduled start gives its case (`Occurrence.data`) for an occurrence at the
    trial's instant: for the office the sample data names as `origin_office` when the calendar
    starts one there, else for the first office of the first level it names; the sample data
    adds to it."""
    sched = next(
        s
        for s in schedules_of(definition.process_id, definition.spec)
        if s.start_event == start_event
    )
    office, level = "", None
    offices = engine.schedules.offices
    if sched.levels and offices is not None:
        wanted = [(code, lvl) for lvl in sched.levels for code in offices.resolve((lvl,))]
        named = [w for w in wanted if w[0] == data.get("origin_office")]
        if named or wanted:
            office, level = (named or wanted)[0]
    return {**Occurrence(sched, clock.now(), office, level).data(), **data}


def _report(
    conn: Any,
    runner: StepRunner,
    definition: LoadedDefinition,
    instance_id: int,
    services: _TrialServices,
) -> dict[str, Any]:
    """What the step projected (the rows a queue would read) and the path the case took."""
    status = conn.execute(
        select(instance_table.c.status).where(instance_table.c.id == instance_id)
    ).scalar()
    tasks = [
        {"name": r.task_name, "title": r.title, "lane": r.lane, "office_code": r.office_code}
        for r in conn.execute(
            select(task_table.c.task_name, task_table.c.title, task_table.c.lane)
            .add_columns(task_table.c.office_code)
            .where(task_table.c.instance_id == instance_id, task_table.c.state == "ready")
            .order_by(task_table.c.id)
        )
    ]
    timers = sorted(
        (
            {"element": r.name, "due_at": _utc(r.fire_at)}
            for r in conn.execute(
                select(timer_table.c.name, timer_table.c.fire_at).where(
                    timer_table.c.instance_id == instance_id, timer_table.c.kind == "timer"
                )
            )
        ),
        key=lambda t: (t["due_at"], t["element"]),
    )
    entry = runner.cache.get(instance_id, 1)
    path: list[dict[str, Any]] = []
    stopped = False
    if entry is not None:
        path, stopped = _path(entry.workflow)
    if status == "completed":
        state = "completed"
    elif stopped or services.refused:
        state = "stopped_at_service"
    else:
        state = "waiting"
    return {
        "ok": True,
        "process_id": definition.process_id,
        "status": state,
        "tasks": tasks,
        "timers": timers,
        "path": path,
    }


def _path(workflow: Any) -> tuple[list[dict[str, Any]], bool]:
    """The drawn elements the case ran through, in the order they finished; then the service
    tasks it stopped at (reached, not called). Engine-internal tasks (no drawn id) are left out.
    """
    done = [t for t in workflow.get_tasks(state=TaskState.COMPLETED) if _drawn(t.task_spec)]
    done.sort(key=lambda t: t.last_state_change)  # stable: ties keep the tree's order
    parked = [
        t
        for t in workflow.get_tasks(state=TaskState.STARTED)
        if isinstance(t.task_spec, ServiceTask) and _drawn(t.task_spec)
    ]
    path = [
        {"element": t.task_spec.bpmn_id, "name": t.task_spec.bpmn_name or ""}
        for t in [*done, *parked]
    ]
    return path, bool(parked)


def _drawn(spec: Any) -> bool:
    bpmn_id = getattr(spec, "bpmn_id", None)
    return bool(bpmn_id) and not str(bpmn_id).startswith("_")


def _utc(instant: datetime) -> str:
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC).isoformat()


# -- failures, in words, with where -------------------------------------------------------------


def _failure(
    error: str,
    *,
    line: int | None = None,
    element_id: str | None = None,
    file: str | None = None,
    element_name: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "ok": False,
        "error": error,
        "line": line,
        "element_id": element_id,
        "file": file,
        "element_name": element_name,
        **extra,
    }


def _model_failure(exc: ModelError) -> dict[str, Any]:
    return _failure(
        str(exc),
        line=exc.line,
        element_id=exc.element_id,
        file=exc.filename,
        element_name=getattr(exc, "element_name", None),
    )


def _data_failure(exc: ValidationFailed, model: ParsedModel) -> dict[str, Any]:
    """The start form refused the sample data: which fields, and the start event's place."""
    fields = {key: problem.message for key, problem in exc.fields.items()}
    # the code and parameters of each problem, for a page that words them in the reader's
    # language (web/forms.py problem_text) instead of showing the engine's English
    problems = {
        key: {
            "code": problem.code,
            "params": json.loads(json.dumps(problem.params, default=str)),  # JSON, whatever
            "message": problem.message,
        }
        for key, problem in exc.fields.items()
    }
    said = "; ".join(f"{key}: {message}" for key, message in fields.items())
    return _failure(
        f"the start data breaks the start form: {said}",
        fields=fields,
        problems=problems,
        **_start_element(model),
    )


def _start_element(model: ParsedModel) -> dict[str, Any]:
    """Where the start data is taken: the start event with a form (else the first one)."""
    starts = [s for s in model.spec.task_specs.values() if isinstance(s, StartEvent)]
    starts.sort(key=lambda s: (form_path(s) is None, _is_timer_start(s), s.bpmn_id or ""))
    if not starts:
        return {}
    return _where(model, starts[0])


def _script_failure(exc: EngineError, model: ParsedModel) -> dict[str, Any]:
    """A script or expression failed while the case ran: the element it failed in."""
    task = _failed_task(exc)
    if task is None:
        return _failure(str(exc))
    where = _where(model, task.task_spec)
    # said as a model error is said: file, line, element (id and drawn name), then what
    place = str(
        ModelError(
            "",
            filename=where["file"],
            line=where["line"],
            element_id=where["element_id"],
            element_name=where["element_name"],
        )
    )
    return _failure(f"{place.removesuffix(': ')}: {exc}", **where)


def _failed_task(exc: BaseException) -> Any:
    """The SpiffWorkflow task an error (or what caused it) names, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        task = getattr(current, "task", None)
        if task is not None and getattr(task, "task_spec", None) is not None:
            return task
        current = current.__cause__ or current.__context__
    return None


def _where(model: ParsedModel, spec: Any) -> dict[str, Any]:
    """File, line, id and drawn name of a task spec of the model."""
    element_id = getattr(spec, "bpmn_id", None)
    file = getattr(getattr(spec, "_wf_spec", None), "file", None)
    if file not in model.files:
        file = next((k for k in sorted(model.files) if k.endswith(".bpmn")), None)
    line = None
    if file is not None and element_id:
        try:
            tree = parse_xml(model.files[file].encode(), file)
            found = tree.xpath("//*[@id=$eid]", eid=element_id)
            line = found[0].sourceline if found else None
        except ModelError:
            line = None
    return {
        "line": line,
        "element_id": element_id,
        "file": file,
        "element_name": getattr(spec, "bpmn_name", None) or None,
    }
