"""Move running cases to another published version of their procedure.

A methodologist fixes or changes a procedure; the cases already running stay on their version
(they were started under it) unless moved. Moving a case re-reads its stored state under the
target version's specs, task specs matched by their BPMN id, so every task keeps its id, its data
and its history, and only what has not happened yet (the predicted branch after each open task) is
predicted anew from the target model.

Legal deadlines count from the case's own instants and never restart at a migration:
- a timer whose expression is unchanged keeps its due instant exactly;
- a changed date expression (`timeDate`) is evaluated on the case's own data (e.g. `placed_at`);
- a changed duration counts from the instant the timer started waiting (when its task opened, or
  the old due instant less the old duration), never from now;
- a deadline a script computed when the case passed it (penalty_room_check: `check_due` from
  `placed_at` and `check_hours_near`) stays as computed: a changed script does not run again for a
  case that is past it, and the plan says so instead of pretending.

`plan` answers, case by case, whether the case can move and why not, with its deadlines before and
after; `migrate` does it, one transaction per case (a case that fails or changed meanwhile is left
as it was, the others move), recorded in the case's history as `case_migrated`.
Who may do it is the domain's rule (workflows/rights.py `may_operate`): the doors ask it.
"""

from __future__ import annotations

import ast
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Connection, select, update

from .errors import ConflictError, EngineError, NotFound
from .models import HumanTask, MessageWait, ProcessInstance, Timer
from .repository import LoadedDefinition
from .safety.script_engine import root_cause
from .step import Projection, StepContext, _deadline, _reminder, _titles

log = logging.getLogger(__name__)

instance_table = ProcessInstance.__table__
task_table = HumanTask.__table__
timer_table = Timer.__table__
wait_table = MessageWait.__table__

OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED
#: MAYBE | LIKELY | FUTURE: what the model expects next (predicted from the open tasks, no history)
PREDICTED = TaskState.PREDICTED_MASK | TaskState.FUTURE

#: the English sentence of each reason and note (the page has its own translated sentences for
#: the same codes; parameters that are names carry {"ru", "kk", "en"} dicts, see `_words`)
MESSAGES: dict[str, str] = {
    "not_running": "the case is {status}: only running cases move",
    "other_procedure": "the case belongs to procedure {process}, not to {target}",
    "same_version": "the case is already on version {version}",
    "open_task_missing": "its open step '{task}' does not exist in version {version}",
    "passed_step_missing": "the step '{task}' it has passed does not exist in version {version} "
    "(its history would lose it)",
    "kind_changed": "its open step '{task}' is a {before} here but a {after} in version {version}",
    "event_added": "version {version} adds the event '{event}' to the open step '{task}', which "
    "cannot be attached to a step already open",
    "called_missing": "it is inside the called procedure '{called}', which version {version} "
    "does not include",
    "called_changed": "it is inside the called procedure '{called}', which the step '{task}' "
    "of version {version} no longer calls",
    "cycle_changed": "the repetition of its timer '{task}' changed; a repeating schedule cannot "
    "be carried over",
    "deadline_error": "the new deadline of '{task}' cannot be computed from this case's data: "
    "{error}",
    "position_error": "its position cannot be carried over to version {version} (the steps "
    "around its open steps are arranged differently there)",
    "changed_meanwhile": "the case changed since the dry run (a step was taken); run the dry "
    "run again",
    "failed": "it could not be moved: {error}",
    # notes on a deadline
    "kept": "unchanged: the deadline stays",
    "computed_at_start": "the deadline stays: it was computed when the case reached '{step}', "
    "which version {version} changes but which does not run again for this case",
    "recomputed_from_data": "recomputed from the case's own data",
    "recomputed_from_opened": "recomputed from when '{task}' opened ({instant})",
    "recomputed_from_waiting": "recomputed from when the timer started waiting ({instant})",
    "follows_timer": "follows its timer",
}

#: kinds of steps, in words (the page translates the same codes)
KINDS: dict[str, str] = {
    "user": "user task",
    "manual": "manual task",
    "script": "script task",
    "service": "service task",
    "rule": "decision task",
    "call": "called procedure",
    "subprocess": "subprocess",
    "receive": "receive task",
    "timer_boundary": "timer on a step",
    "message_boundary": "message on a step",
    "event_boundary": "event on a step",
    "timer_catch": "timer event",
    "message_catch": "message event",
    "signal_catch": "signal event",
    "event_catch": "catch event",
    "gateway": "gateway",
    "other": "step",
}


UNEXPECTED = "an unexpected error, written to the server's log"


@dataclass
class Reason:
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        return MESSAGES[self.code].format(**{k: _plain(v) for k, v in self.params.items()})

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, **self.params}


def _plain(value: Any) -> Any:
    """A parameter as the English sentence shows it (a names dict: its Russian/model name)."""
    if isinstance(value, dict):
        return value.get("name") or value.get("ru") or value.get("en") or ""
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _names(spec: Any) -> dict[str, str]:
    """A step's name as the model gives it, in each language it gives (words, not ids)."""
    props = (getattr(spec, "extensions", None) or {}).get("properties") or {}
    name = getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or spec.name
    out = {"name": name, "ru": props.get("name_ru") or name}
    for lang in ("kk", "en"):
        if props.get(f"name_{lang}"):
            out[lang] = props[f"name_{lang}"]
    return out


def _kind(spec: Any) -> str:
    cls = type(spec).__name__
    definition = getattr(spec, "event_definition", None)
    family = ""
    if definition is not None:
        if isinstance(definition, TimerEventDefinition):
            family = "timer"
        elif "Message" in type(definition).__name__:
            family = "message"
        elif "Signal" in type(definition).__name__:
            family = "signal"
        else:
            family = "event"
    if cls == "BoundaryEvent":
        return f"{family}_boundary"
    if cls == "IntermediateCatchEvent":
        return f"{family}_catch"
    return {
        "UserTask": "user",
        "ManualTask": "manual",
        "NoneTask": "manual",
        "ScriptTask": "script",
        "ServiceTask": "service",
        "BusinessRuleTask": "rule",
        "CallActivity": "call",
        "SubWorkflowTask": "subprocess",
        "TransactionSubprocess": "subprocess",
        "ReceiveTask": "receive",
    }.get(cls, "gateway" if cls.endswith("Gateway") else "other:" + cls)


# -- the prepared move of one case ---------------------------------------------------------------


@dataclass
class _Move:
    result: dict[str, Any]
    reasons: list[Reason] = field(default_factory=list)
    workflow: BpmnWorkflow | None = None
    task_rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # guid -> new values


def _case_row(conn: Connection, instance_id: int, lock: bool) -> Any:
    c = instance_table.c
    stmt = select(
        c.id,
        c.definition_id,
        c.process_id,
        c.version,
        c.status,
        c.revision,
        c.state,
        c.business_key,
        c.audit_seq,
        c.audit_head,
        c.office_code,
    ).where(c.id == instance_id)
    if lock and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return conn.execute(stmt).first()


def _workflows(workflow: BpmnWorkflow) -> Iterable[tuple[BpmnWorkflow, Any]]:
    """The case's workflow and each running subprocess, with the call-activity task above it."""
    yield workflow, None
    for sp_id, sp in workflow.subprocesses.items():
        yield sp, workflow.get_task_from_id(sp_id)


def _prepare(
    engine: Any,
    conn: Connection,
    row: Any,
    target: LoadedDefinition,
    now: datetime,
) -> _Move:
    version = target.version
    result: dict[str, Any] = {
        "instance_id": row.id,
        "business_key": row.business_key,
        "from_version": row.version,
        "to_version": version,
        "from_definition_id": row.definition_id,
        "to_definition_id": target.id,
        "revision": row.revision,
        "can_move": False,
        "reasons": [],
        "deadlines": [],
        "tasks": [],
    }
    move = _Move(result)
    if row.status != "running":
        move.reasons.append(Reason("not_running", {"status": row.status}))
    if row.process_id != target.process_id:
        move.reasons.append(
            Reason("other_procedure", {"process": row.process_id, "target": target.process_id})
        )
    elif row.definition_id == target.id:
        move.reasons.append(Reason("same_version", {"version": version}))
    if not row.state or row.status != "running":
        return _finish(move)
    source = engine.repository.get(row.definition_id)
    old = engine.serializer.loads(row.state, source.spec, source.subprocess_specs)
    old.script_engine = engine.script_engine
    rows = {
        r.task_guid: r
        for r in conn.execute(
            select(
                task_table.c.task_guid,
                task_table.c.task_name,
                task_table.c.title,
                task_table.c.titles,
                task_table.c.created_at,
                task_table.c.due_at,
                task_table.c.remind_at,
            ).where(task_table.c.instance_id == row.id, task_table.c.state == "ready")
        )
    }
    result["tasks"] = [
        {"element": t.task_spec.bpmn_id, **_names(t.task_spec)}
        for t in old.get_tasks(state=OPEN)
        if t.task_spec.manual or _is_waiting_event(t)
    ]
    if row.process_id != target.process_id or row.definition_id == target.id:
        result["deadlines"] = _before_only(old, rows)
        return _finish(move)
    _check_tasks(move, old, target)
    if move.reasons:
        result["deadlines"] = _before_only(old, rows)
        return _finish(move)
    try:
        new = _restore_under(engine, row.state, target)
    except Exception:  # a structure the target cannot hold: said in words, logged for us
        log.warning(
            "case %s cannot be restored under definition %s", row.id, target.id, exc_info=True
        )
        move.reasons.append(Reason("position_error", {"version": version}))
        result["deadlines"] = _before_only(old, rows)
        return _finish(move)
    _deadlines(move, engine, old, new, source, target, rows, now)
    if move.reasons:
        return _finish(move)
    move.workflow = new
    return _finish(move)


def _finish(move: _Move) -> _Move:
    move.result["can_move"] = not move.reasons
    move.result["reasons"] = [r.text() for r in move.reasons]
    move.result["reason_codes"] = [r.as_json() for r in move.reasons]
    return move


def _err(exc: BaseException) -> str:
    cause = root_cause(exc) if isinstance(exc, Exception) else exc
    text = str(cause).strip() or type(cause).__name__
    return text.splitlines()[0][:300]


def _is_waiting_event(task: Any) -> bool:
    """A catch event or receive task the case waits in (a timer on a step is that step's
    deadline, listed with the deadlines, not where the case stands)."""
    return (
        task.state == TaskState.WAITING
        and getattr(task.task_spec, "event_definition", None) is not None
        and type(task.task_spec).__name__ != "BoundaryEvent"
    )


def _check_tasks(move: _Move, old: BpmnWorkflow, target: LoadedDefinition) -> None:
    """Every step the case has reached must exist in the target; an open one with its kind."""
    version = target.version
    seen: set[tuple[str, str]] = set()
    for wf, caller in _workflows(old):
        if caller is None:
            spec = target.spec
        else:
            called = wf.spec.name
            spec = target.subprocess_specs.get(called)
            where = {"called": called}
            if spec is None:
                move.reasons.append(Reason("called_missing", {**where, "version": version}))
                continue
            caller_spec = _parent_spec(old, caller, target)
            if caller_spec is None or getattr(caller_spec, "spec", None) != called:
                move.reasons.append(
                    Reason(
                        "called_changed",
                        {**where, "task": _names(caller.task_spec), "version": version},
                    )
                )
                continue
        for task in wf.tasks.values():
            if task.state & PREDICTED:
                continue
            name = task.task_spec.name
            new_spec = spec.task_specs.get(name)
            is_open = bool(task.state & OPEN)
            key = (wf.spec.name, name)
            if new_spec is None:
                if key not in seen:
                    seen.add(key)
                    code = "open_task_missing" if is_open else "passed_step_missing"
                    move.reasons.append(
                        Reason(code, {"task": _names(task.task_spec), "version": version})
                    )
                continue
            if is_open and _kind(task.task_spec) != _kind(new_spec) and key not in seen:
                seen.add(key)
                move.reasons.append(
                    Reason(
                        "kind_changed",
                        {
                            "task": _names(task.task_spec),
                            "before": _kind(task.task_spec),
                            "after": _kind(new_spec),
                            "version": version,
                        },
                    )
                )
            if is_open and task.task_spec.manual:
                added = _boundary(spec, name) - _boundary(wf.spec, name)
                for event in sorted(added):
                    move.reasons.append(
                        Reason(
                            "event_added",
                            {
                                "event": _names(spec.task_specs[event]),
                                "task": _names(task.task_spec),
                                "version": version,
                            },
                        )
                    )


def _parent_spec(old: BpmnWorkflow, caller: Any, target: LoadedDefinition) -> Any:
    """The target's spec of the call activity `caller` (in the main process or a subprocess)."""
    owner = caller.workflow.spec.name
    spec = target.spec if owner == old.spec.name else target.subprocess_specs.get(owner)
    return None if spec is None else spec.task_specs.get(caller.task_spec.name)


def _boundary(spec: Any, task_name: str) -> set[str]:
    """The events attached to a step (outputs of its boundary split), the step itself left out."""
    split = spec.task_specs.get(f"{task_name}.BoundaryEventSplit")
    if split is None:
        return set()
    return {o.name for o in split.outputs if o.name != task_name}


def _restore_under(engine: Any, state: str, target: LoadedDefinition) -> BpmnWorkflow:
    """The stored state read under the target's specs: every reached task keeps its id, data and
    state; the predicted tasks (what the old model expected next) are dropped and predicted anew
    from the open tasks under the target model."""
    dct = json.loads(state)
    _drop_predicted(dct)
    for sub in (dct.get("subprocesses") or {}).values():
        _drop_predicted(sub)
    workflow = engine.serializer.loads(json.dumps(dct), target.spec, target.subprocess_specs)
    workflow.script_engine = engine.script_engine
    for task in workflow.get_tasks():
        if task.task_spec is None:
            raise EngineError("a step of the case has no counterpart in the target")
    for task in workflow.get_tasks(state=OPEN):
        task.task_spec._predict_hook(task)
        for child in task.children:
            if child.state & PREDICTED:
                child.task_spec._predict(child, mask=PREDICTED)
    return workflow


def _drop_predicted(dct: dict[str, Any]) -> None:
    tasks = dct.get("tasks") or {}
    predicted = {tid for tid, t in tasks.items() if int(t.get("state") or 0) & PREDICTED}
    for tid in predicted:
        del tasks[tid]
    for t in tasks.values():
        t["children"] = [c for c in t.get("children") or [] if c not in predicted]


# -- deadlines -----------------------------------------------------------------------------------


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, dict):  # a cycle: its next occurrence, none once its cycles are used
        value = value.get("next") if value.get("cycles") != 0 else None
        if value is None:
            return None
    try:
        return TimerEventDefinition.get_datetime(str(value))
    except (TypeError, ValueError):
        return None


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _before_only(old: BpmnWorkflow, rows: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for task in _waiting_timers(old):
        before = _instant(task._get_internal_data("event_value"))
        out.append(_entry(task.task_spec, "timer", before, None, None))
    for guid, r in rows.items():
        if r.due_at is not None:
            task = old.get_task_from_id(UUID(guid))
            spec = task.task_spec if task is not None else None
            out.append(
                _entry(spec, "task", _aware(r.due_at), None, None, fallback=(r.task_name, r.title))
            )
    return out


def _waiting_timers(workflow: BpmnWorkflow) -> list[Any]:
    return [
        t
        for t in workflow.get_tasks(state=TaskState.WAITING)
        if isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)
    ]


def _entry(
    spec: Any,
    kind: str,
    before: datetime | None,
    after: datetime | None,
    note: Reason | None,
    fallback: tuple[str, str] | None = None,
) -> dict[str, Any]:
    names = _names(spec) if spec is not None else {"name": fallback[1] if fallback else ""}
    element = spec.bpmn_id if spec is not None else (fallback[0] if fallback else "")
    return {
        "element": element,
        "name": names["name"],
        "names": names,
        "kind": kind,
        "before": _iso(before),
        "after": _iso(after),
        "changed": before != after if after is not None else False,
        "past": False,
        "note": note.text() if note is not None else None,
        "note_code": note.as_json() if note is not None else None,
    }


def _expression_names(expression: str) -> set[str]:
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _script_names(script: str) -> tuple[set[str], set[str]]:
    """(names a script assigns, names it reads)."""
    try:
        tree = ast.parse(script)
    except SyntaxError:
        return set(), set()
    stored, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (stored if isinstance(node.ctx, ast.Store) else read).add(node.id)
    return stored, read


def _changed_upstream(old: BpmnWorkflow, timer_task: Any, target_spec: Any) -> Any:
    """A step the case has passed whose script computed what the timer reads (directly or
    through other values) and which the target changes: the deadline was computed then."""
    wf = timer_task.workflow
    scripts = []
    for task in wf.tasks.values():
        script = getattr(task.task_spec, "script", None)
        if task.state == TaskState.COMPLETED and isinstance(script, str):
            scripts.append((task.task_spec, *_script_names(script)))
    wanted = _expression_names(timer_task.task_spec.event_definition.expression)
    grew = True
    while grew:  # the values the deadline depends on, through the scripts that set them
        grew = False
        for _spec, stored, read in scripts:
            if stored & wanted and not read <= wanted:
                wanted |= read
                grew = True
    for spec, stored, _read in scripts:
        if not stored & wanted:
            continue
        new_spec = target_spec.task_specs.get(spec.name)
        if new_spec is not None and getattr(new_spec, "script", None) != spec.script:
            return spec
    return None


def _deadlines(
    move: _Move,
    engine: Any,
    old: BpmnWorkflow,
    new: BpmnWorkflow,
    source: LoadedDefinition,
    target: LoadedDefinition,
    rows: dict[str, Any],
    now: datetime,
) -> None:
    version = target.version
    entries = []
    for task in _waiting_timers(old):
        new_task = new.get_task_from_id(task.id)
        old_def = task.task_spec.event_definition
        new_def = new_task.task_spec.event_definition
        value = task._get_internal_data("event_value")
        before = _instant(value)
        same = type(old_def) is type(new_def) and old_def.expression == new_def.expression
        note: Reason | None = None
        if same:
            after = before
            sub_spec = new_task.workflow.spec
            upstream = _changed_upstream(old, task, sub_spec)
            if upstream is not None:
                note = Reason("computed_at_start", {"step": _names(upstream), "version": version})
            else:
                note = Reason("kept")
        elif isinstance(new_def, CycleTimerEventDefinition) or isinstance(
            old_def, CycleTimerEventDefinition
        ):
            move.reasons.append(Reason("cycle_changed", {"task": _names(task.task_spec)}))
            continue
        else:
            try:
                after, note, event_value = _recompute(engine, task, new_task, rows, before)
            except Exception as exc:
                move.reasons.append(
                    Reason(
                        "deadline_error", {"task": _names(new_task.task_spec), "error": _err(exc)}
                    )
                )
                continue
            new_task._set_internal_data(event_value=event_value)
        entries.append(_entry(new_task.task_spec, "timer", before, after, note))
    # the open user tasks' due instants, as the new model's timers give them
    for guid, r in rows.items():
        new_task = new.get_task_from_id(UUID(guid))
        if new_task is None:
            continue
        before = _aware(r.due_at)
        after = _deadline(new_task)
        spec = new_task.task_spec
        values = {
            "title": spec.bpmn_name or spec.bpmn_id or spec.name,
            "titles": _titles(spec),
            "due_at": after,
            "remind_at": r.remind_at if after == before else _reminder(new_task, after, now),
        }
        move.task_rows[guid] = values
        if before is None and after is None:
            continue
        note = Reason("follows_timer") if after is not None else None
        entries.append(_entry(spec, "task", before, after, note))
    for e in entries:  # a new deadline already behind: the worker records the breach at once
        e["past"] = bool(e["changed"] and e["after"] and datetime.fromisoformat(e["after"]) < now)
    move.result["deadlines"] = entries


def _recompute(
    engine: Any, task: Any, new_task: Any, rows: dict[str, Any], before: datetime | None
) -> tuple[datetime, Reason, str]:
    """A changed timer's due instant from the case's own instants, never from now."""
    definition = new_task.task_spec.event_definition
    value = engine.script_engine.evaluate(new_task, definition.expression)
    if isinstance(definition, TimeDateEventDefinition):
        after = TimerEventDefinition.parse_time_or_duration(str(value))
        if not isinstance(after, datetime):
            raise EngineError(f"'{value}' is not an instant")
        return after.astimezone(UTC), Reason("recomputed_from_data"), str(value)
    if not isinstance(definition, DurationTimerEventDefinition):
        raise EngineError("this kind of timer cannot be recomputed")
    since, note = _waiting_since(engine, task, rows, before)
    parsed = TimerEventDefinition.parse_iso_duration(str(value))
    after = since + TimerEventDefinition.get_timedelta_from_start(parsed, since)
    return after, note, after.isoformat()


def _waiting_since(
    engine: Any, task: Any, rows: dict[str, Any], before: datetime | None
) -> tuple[datetime, Reason]:
    """When the timer started waiting: when the step it is attached to opened (its human task
    row), else its old due instant less its old duration, else the task's own last change."""
    parent = task.parent
    if parent is not None and parent.task_spec.name.endswith(".BoundaryEventSplit"):
        for sibling in parent.children:
            r = rows.get(str(sibling.id))
            if r is not None and r.created_at is not None:
                opened = _aware(r.created_at)
                return opened, Reason(
                    "recomputed_from_opened", {"task": _names(sibling.task_spec), "instant": opened}
                )
    old_def = task.task_spec.event_definition
    if before is not None and isinstance(old_def, DurationTimerEventDefinition):
        value = engine.script_engine.evaluate(task, old_def.expression)
        parsed = TimerEventDefinition.parse_iso_duration(str(value))
        since = before - TimerEventDefinition.get_timedelta_from_end(parsed, before)
        return since, Reason("recomputed_from_waiting", {"instant": since})
    since = datetime.fromtimestamp(task.last_state_change, UTC)
    return since, Reason("recomputed_from_waiting", {"instant": since})


# -- the doors' functions ------------------------------------------------------------------------


def _target(engine: Any, to_definition_id: int) -> LoadedDefinition:
    return engine.repository.get(to_definition_id)


def plan(engine: Any, instance_ids: list[int], to_definition_id: int) -> list[dict[str, Any]]:
    """Whether each case can move to the target version, why not, and its deadlines before and
    after. Nothing is written."""
    target = _target(engine, to_definition_id)
    now = engine.clock.now()
    out = []
    for iid in instance_ids:
        with engine.db.read() as conn:
            row = _case_row(conn, iid, lock=False)
            if row is None:
                out.append(_missing(iid, target))
                continue
            try:
                out.append(_prepare(engine, conn, row, target, now).result)
            except Exception as exc:  # one case's surprise never hides the others' answers
                log.exception("migration plan of case %s failed", iid)
                out.append(_failed(iid, row, target, exc))
    return out


def migrate(
    engine: Any,
    instance_ids: list[int],
    to_definition_id: int,
    *,
    actor: str,
    now: datetime,
    revisions: dict[int, int] | None = None,
) -> list[dict[str, Any]]:
    """Move each case that can move, one transaction per case; a case that cannot, fails or
    changed since the dry run (`revisions`: the revision each case had then) is left as it was.
    Returns the plan's rows with "moved"."""
    target = _target(engine, to_definition_id)
    out = []
    for iid in instance_ids:
        try:
            out.append(_migrate_one(engine, iid, target, actor, now, revisions))
        except Exception as exc:
            out.append(_failed(iid, None, target, exc))
        finally:
            engine.cache.get(iid, -1)  # a get with no matching revision drops the entry
    return out


def _migrate_one(
    engine: Any,
    iid: int,
    target: LoadedDefinition,
    actor: str,
    now: datetime,
    revisions: dict[int, int] | None,
) -> dict[str, Any]:
    with engine.db.write() as conn:
        row = _case_row(conn, iid, lock=True)
        if row is None:
            return _missing(iid, target)
        if revisions is not None and iid in revisions and revisions[iid] != row.revision:
            move = _finish(_Move(_base(iid, row, target), [Reason("changed_meanwhile")]))
            move.result["moved"] = False
            return move.result
        move = _prepare(engine, conn, row, target, now)
        move.result["moved"] = False
        if move.workflow is None:
            return move.result
        source = engine.repository.get(row.definition_id)
        projection = _projection(conn, iid)
        ctx = StepContext(conn, move.workflow, target, iid, now, actor, None, projection)
        changed = [
            {k: d[k] for k in ("element", "name", "kind", "before", "after")}
            for d in move.result["deadlines"]
            if d["changed"]
        ]
        ctx.record(
            "case_migrated",
            data_before={
                "definition_id": source.id,
                "process_id": source.process_id,
                "version": source.version,
                "sha256": source.sha256,
            },
            data_after={
                "definition_id": target.id,
                "process_id": target.process_id,
                "version": target.version,
                "sha256": target.sha256,
                "deadlines": changed,
            },
        )
        for guid, values in move.task_rows.items():
            conn.execute(
                update(task_table)
                .where(task_table.c.task_guid == guid, task_table.c.state == "ready")
                .values(**values)
            )
        conn.execute(
            update(instance_table)
            .where(instance_table.c.id == iid, instance_table.c.revision == row.revision)
            .values(definition_id=target.id, version=target.version)
        )
        # the state, the timer / task / wait rows and the event, under the revision guard
        engine.steps._save(ctx, row.revision, row.audit_seq, row.audit_head)
        move.result["moved"] = True
        move.result["revision"] = row.revision + 1
        return move.result


def _projection(conn: Connection, iid: int) -> Projection:
    return Projection(
        ready_tasks=set(
            conn.execute(
                select(task_table.c.task_guid).where(
                    task_table.c.instance_id == iid, task_table.c.state == "ready"
                )
            ).scalars()
        ),
        timers={
            (g, k): f
            for g, k, f in conn.execute(
                select(timer_table.c.task_guid, timer_table.c.kind, timer_table.c.fire_at).where(
                    timer_table.c.instance_id == iid
                )
            )
        },
        waits=set(
            conn.execute(select(wait_table.c.name).where(wait_table.c.instance_id == iid)).scalars()
        ),
    )


def _base(iid: int, row: Any, target: LoadedDefinition) -> dict[str, Any]:
    return {
        "instance_id": iid,
        "business_key": row.business_key if row is not None else None,
        "from_version": row.version if row is not None else None,
        "to_version": target.version,
        "from_definition_id": row.definition_id if row is not None else None,
        "to_definition_id": target.id,
        "revision": row.revision if row is not None else None,
        "can_move": False,
        "reasons": [],
        "deadlines": [],
        "tasks": [],
    }


def _missing(iid: int, target: LoadedDefinition) -> dict[str, Any]:
    result = _base(iid, None, target)
    result["reasons"] = [f"case {iid} does not exist"]
    result["reason_codes"] = [{"code": "missing", "case": iid}]
    result["moved"] = False
    return result


def _failed(iid: int, row: Any, target: LoadedDefinition, exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ConflictError):
        reason = Reason("changed_meanwhile")
    elif isinstance(root_cause(exc), EngineError):  # the engine's own words
        reason = Reason("failed", {"error": _err(exc)})
    else:  # never a Python message to a user: the log has it
        log.error("migration of case %s failed", iid, exc_info=exc)
        reason = Reason("failed", {"error": UNEXPECTED})
    move = _finish(_Move(_base(iid, row, target), [reason]))
    move.result["moved"] = False
    return move.result


def cases_of(engine: Any, process_id: str, version: int | None = None) -> list[int]:
    """The running cases of a procedure (of one version), oldest first."""
    c = instance_table.c
    stmt = select(c.id).where(c.process_id == process_id, c.status == "running").order_by(c.id)
    if version is not None:
        stmt = stmt.where(c.version == version)
    with engine.db.read() as conn:
        return list(conn.execute(stmt).scalars())


def definition_id_of(engine: Any, process_id: str, version: int) -> int:
    """The id of a published version (NotFound in words when there is none)."""
    from .models import Definition

    d = Definition.__table__.c
    with engine.db.read() as conn:
        found = conn.execute(
            select(d.id).where(d.process_id == process_id, d.version == version)
        ).scalar()
    if found is None:
        raise NotFound(f"procedure '{process_id}' has no version {version}")
    return int(found)


__all__ = ["KINDS", "MESSAGES", "cases_of", "definition_id_of", "migrate", "plan"]
