"""Statements of the step's hot path, built and compiled once (see `fastsql`)."""

from __future__ import annotations

from sqlalchemy import bindparam, delete, insert, select, update

from .fastsql import Prepared
from .history import HASHED_FIELDS, events_table
from .models import CaseAttribute, CaseTerm, HumanTask, MessageWait, ProcessInstance, Timer

instance = ProcessInstance.__table__
task = HumanTask.__table__
timer = Timer.__table__
wait = MessageWait.__table__

_HEAD = select(
    instance.c.definition_id,
    instance.c.revision,
    instance.c.status,
    instance.c.audit_seq,
    instance.c.audit_head,
).where(instance.c.id == bindparam("b_id"))
INSTANCE_HEAD = Prepared(_HEAD)
INSTANCE_HEAD_LOCKED = Prepared(_HEAD.with_for_update())

_INSTANCE_COLUMNS = [
    "definition_id",
    "process_id",
    "version",
    "status",
    "revision",
    "state",
    "business_key",
    "summary",
    "started_by",
    "office_code",
    "created_at",
    "updated_at",
    "audit_seq",
    "audit_head",
]
INSERT_INSTANCE = Prepared(insert(instance).returning(instance.c.id), _INSTANCE_COLUMNS)

SAVE_INSTANCE = Prepared(
    update(instance)
    .where(instance.c.id == bindparam("b_id"), instance.c.revision == bindparam("b_expected"))
    .values(
        state=bindparam("b_state"),
        revision=bindparam("b_revision"),
        status=bindparam("b_status"),
        updated_at=bindparam("b_now"),
        completed_at=bindparam("b_completed_at"),
        audit_seq=bindparam("b_seq"),
        audit_head=bindparam("b_head"),
    )
)

TASK_BY_GUID = Prepared(
    select(
        task.c.instance_id,
        task.c.title,
        task.c.state,
        task.c.assignee,
        task.c.completed_by,
    ).where(task.c.task_guid == bindparam("b_guid"))
)

_TASK_COLUMNS = [
    "instance_id",
    "task_guid",
    "process_id",
    "task_name",
    "title",
    "lane",
    "role",
    "office_code",
    "assignee",
    "form",
    "created_at",
    "due_at",
    "remind_at",
    "titles",
    "state",
]
INSERT_TASKS = Prepared(insert(task).inline(), _TASK_COLUMNS)

FINISH_TASK = Prepared(
    update(task)
    .where(task.c.task_guid == bindparam("b_guid"))
    .values(
        state=bindparam("b_state"),
        completed_by=bindparam("b_by"),
        completed_at=bindparam("b_at"),
    )
)

INSERT_ATTRIBUTES = Prepared(
    insert(CaseAttribute.__table__).inline(), ["instance_id", "name", "value", "value_norm"]
)

INSERT_TERMS = Prepared(insert(CaseTerm.__table__).inline(), ["instance_id", "term"])

INSERT_TIMER = Prepared(
    insert(timer).inline(),
    ["instance_id", "task_guid", "kind", "name", "fire_at", "attempts", "last_error"],
)

_timer_key = (
    timer.c.instance_id == bindparam("b_id"),
    timer.c.task_guid == bindparam("b_guid"),
    timer.c.kind == bindparam("b_kind"),
)
DELETE_TIMER = Prepared(delete(timer).where(*_timer_key))
MOVE_TIMER = Prepared(update(timer).where(*_timer_key).values(fire_at=bindparam("b_fire_at")))

INSERT_WAITS = Prepared(insert(wait).inline(), ["instance_id", "name"])
DELETE_WAIT = Prepared(
    delete(wait).where(wait.c.instance_id == bindparam("b_id"), wait.c.name == bindparam("b_name"))
)

#: an event row is its hashed fields and the hash over them (one list: the two cannot drift)
INSERT_EVENTS = Prepared(insert(events_table).inline(), [*HASHED_FIELDS, "hash"])

TASK_ROW = Prepared(select(task).where(task.c.task_guid == bindparam("b_guid")))
OPEN_TASKS = Prepared(
    select(task)
    .where(task.c.instance_id == bindparam("b_id"), task.c.state == "ready")
    .order_by(task.c.due_at.is_(None), task.c.due_at, task.c.id)
)
