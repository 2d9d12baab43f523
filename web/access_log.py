"""Which requests are reads of a case, for the access log (workflows/access_log.py).

Two ways in, one row per request, written by web/access.py after the answer is made (so the
row carries the status actually answered, 200 or the refusal):

- the routes in `CASE_READS` are recorded by endpoint name, for GET and HEAD, whatever they
  answer (200, 403, 404), without a line in the route;
- any other route calls `record_access(what, case_id)` (or with `task_guid=`): the trace and
  the exports do, and a new route that shows a case must.

A read that cannot be recorded is not served (decided: an auditor must be able to rely on the
log being complete): web/access.py answers 503 "try again" instead of the page. A refusal that
cannot be recorded still answers its refusal (nothing was shown).
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app, g, request

from workflows.access_log import Read

#: endpoint -> what the log calls the read
CASE_READS: dict[str, str] = {
    "cases.case_page": "case",
    "cases.case_diagram": "diagram",
    "tasks.task_page": "task",
    "api.get_instance": "api",
    "api.instance_history": "api",
    "api.get_task": "api",
    "audit_trace.trace_page": "trace",
    "audit_trace.trace_report": "export",
    "audit_trace.export_json": "export",
    "audit_trace.export_csv": "export",
    "audit.case_access": "access_log",
}
#: answers that are recorded: the read was served, or refused on the case
RECORDED_STATUSES = (200, 403, 404)
MAX_ID = 2**63 - 1


def record_access(what: str, case_id: int | None = None, task_guid: str | None = None) -> None:
    """Have this request recorded in the access log as a read of `what` ("trace", "export"…) of
    the case `case_id` (or of the task `task_guid`'s case). Call it as early as the route knows
    the id, before its scope check, so that a refusal is recorded under the same name."""
    g.nadzor_access = (what, case_id, task_guid)


def is_case_read(status: int) -> bool:
    """Whether this request is a read of a case to record (cheap: no database, no user)."""
    if status not in RECORDED_STATUSES:
        return False
    if g.get("nadzor_access") is not None:
        return True
    return request.endpoint in CASE_READS and request.method in ("GET", "HEAD")


def pending_read(status: int, who: tuple[str, str | None]) -> Read | None:
    """The access-log row this request calls for, or None."""
    if status not in RECORDED_STATUSES:
        return None
    explicit = g.get("nadzor_access")
    args = request.view_args or {}
    if explicit is not None:
        what, case_id, task_guid = explicit
    else:
        what = CASE_READS.get(request.endpoint or "")
        if what is None or request.method not in ("GET", "HEAD"):
            return None
        case_id, task_guid = args.get("instance_id"), args.get("task_id")
    if isinstance(case_id, int) and not 0 < case_id <= MAX_ID:
        case_id = None  # a number no case can have: the path still says what was asked
    return Read(
        at=_now(),
        login=who[0],
        office_code=who[1],
        what=what,
        instance_id=case_id if isinstance(case_id, int) else None,
        task_guid=task_guid if isinstance(task_guid, str) else None,
        method=request.method,
        path=request.full_path.rstrip("?"),
        status=status,
        ip=request.remote_addr or "?",
    )


def _now() -> datetime:
    """The engine's clock, as the history's events use (tests move it)."""
    now: datetime = current_app.extensions["nadzor.engine"].clock.now()
    return now
