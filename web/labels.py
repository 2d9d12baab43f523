"""Words for the engine's codes (history event types, task states) in the user's language.

The case page tells its history with these (web/case_file.py: `history_lines`)."""

from __future__ import annotations

from flask_babel import gettext, lazy_gettext

EVENT_LABELS = {
    "instance_started": lazy_gettext("case opened"),
    "instance_completed": lazy_gettext("case closed"),
    "task_created": lazy_gettext("task assigned"),
    "task_claimed": lazy_gettext("task claimed"),
    "task_unclaimed": lazy_gettext("task released"),
    "task_delegated": lazy_gettext("task delegated"),
    "task_completed": lazy_gettext("task completed"),
    "task_cancelled": lazy_gettext("task cancelled"),
    "task_reminder": lazy_gettext("reminder before the deadline"),
    "deadline_breached": lazy_gettext("deadline breached"),
    "timer_fired": lazy_gettext("timer fired"),
    "message_received": lazy_gettext("message received"),
    "service_completed": lazy_gettext("outside system answered"),
    "service_failed": lazy_gettext("outside system failed"),
    "service_retried": lazy_gettext("outside system retried"),
    "access_denied": lazy_gettext("access refused"),
    "incident_retried": lazy_gettext("failed step retried by hand"),
    "case_cancelled": lazy_gettext("case cancelled with a reason"),
    "case_migrated": lazy_gettext("case moved to another version"),
}
STATE_LABELS = {
    "ready": lazy_gettext("open"),
    "completed": lazy_gettext("completed"),
    "cancelled": lazy_gettext("cancelled"),
}


def event_label(event_type: str) -> str:
    label = EVENT_LABELS.get(event_type)
    return str(label) if label is not None else gettext("event %(code)s", code=event_type)


def task_state_label(state: str) -> str:
    label = STATE_LABELS.get(state)
    return str(label) if label is not None else state
