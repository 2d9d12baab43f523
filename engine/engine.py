"""The engine's face: one object holding the five services, built from settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from .audit_keys import settings_of
from .calendar import DEADLINE_FUNCTIONS
from .calendar import preload as preload_calendar
from .clock import Clock, SystemClock
from .db import Database
from .drafts import DraftService
from .errors import ScriptFailed, UnsafeCode
from .history import case_chain, events_table, verify
from .management import ManagementService
from .organization import LaneAsRole, Organization
from .repository import Repository
from .runtime import RuntimeService
from .safety.limits import EXPRESSION_CPU_S, SCRIPT_CPU_S, STEP_CPU_S
from .safety.script_engine import make_script_engine, warm_up
from .schedules import ScheduleService, StartOffices
from .serialization import StateSerializer
from .services import ServiceRegistry
from .step import Action, StepContext, StepRunner, WorkflowCache, record_incident
from .tasks import TaskService


class HistoryService:
    """The audit trail of one case or of everything, and its verification."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def events(self, instance_id: int) -> list[dict[str, Any]]:
        c = events_table.c
        with self.engine.db.read() as conn:
            rows = conn.execute(
                select(events_table).where(c.chain == case_chain(instance_id)).order_by(c.seq)
            ).mappings()
            return [dict(r) for r in rows]

    def verify(self) -> dict[str, Any]:
        with self.engine.db.read() as conn:
            return verify(conn, settings_of(self.engine)).as_json()


class Engine:
    """repository, runtime, tasks, history and management over one database."""

    def __init__(
        self,
        db: Database,
        bpmn_dir: Path,
        *,
        clock: Clock | None = None,
        organization: Organization | None = None,
        services: ServiceRegistry | None = None,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        cache_size: int = 2000,
        case_attributes: tuple[str, ...] = (),
        start_offices: StartOffices | None = None,
        step_cpu_s: float = STEP_CPU_S,
        script_cpu_s: float = SCRIPT_CPU_S,
        expression_cpu_s: float = EXPRESSION_CPU_S,
    ) -> None:
        """`step_cpu_s`, `script_cpu_s`, `expression_cpu_s`: CPU seconds of the running thread
        a whole step, one script and one expression may use (see `engine.safety.limits`);
        `start_offices`: the domain's office levels and resolver for scheduled starts."""
        self.db = db
        self.clock = clock or SystemClock()
        self.organization = organization or LaneAsRole()
        self.services = services or ServiceRegistry()
        self.serializer = StateSerializer()
        self.repository = Repository(
            db, bpmn_dir, self.serializer, functions=tuple(sorted(functions or {}))
        )
        self.repository.start_levels = start_offices.levels if start_offices else None
        # asked of the organization in place at each validation (a test may swap it)
        self.repository.known_lanes = lambda: _known_lanes(self.organization)
        self.script_engine = make_script_engine(
            functions={**DEADLINE_FUNCTIONS, **(functions or {})},
            service_handler=self.services,
            script_cpu_s=script_cpu_s,
            expression_cpu_s=expression_cpu_s,
        )
        # what loads lazily is loaded now, not inside the first step's CPU limits
        preload_calendar(self.clock.now().year)
        warm_up(self.script_engine)
        self.cache = WorkflowCache(cache_size)
        self.steps = StepRunner(
            db,
            self.repository,
            self.serializer,
            self.clock,
            self.organization,
            self.script_engine,
            self.cache,
            case_attributes,
        )
        self.steps.step_cpu_s = step_cpu_s
        self.runtime = RuntimeService(self)
        self.tasks = TaskService(self)
        self.management = ManagementService(self)
        self.schedules = ScheduleService(self, start_offices)
        self.history = HistoryService(self)
        self.drafts = DraftService(self)

    def run_step(
        self,
        instance_id: int | None,
        action: Action,
        *,
        actor: str,
        office_code: str | None = None,
        now: datetime | None = None,
        clock: Clock | None = None,
        task_guid: str | None = None,
        record_failure: bool = True,
    ) -> StepContext:
        """Run one step; a model failure is rolled back whole and recorded as an incident.

        The worker passes `record_failure=False`: it keeps one open incident per failing timer
        itself (with its backoff), instead of a new row at every attempt.
        """
        try:
            return self.steps.run(
                instance_id,
                action,
                actor=actor,
                office_code=office_code,
                now=now,
                clock=clock,
                task_guid=task_guid,
            )
        except (ScriptFailed, UnsafeCode) as exc:
            if not record_failure:
                raise
            task_name = None
            if task_guid is not None:  # the person's task the failed step was for
                task = self.tasks.get(task_guid)
                instance_id, task_name = task.instance_id, task.task_name
            record_incident(
                self.db,
                instance_id,
                "script",
                str(exc),
                now or self.clock.now(),
                task_guid=task_guid,
                task_name=task_name,
                element_id=getattr(exc, "element_id", None),
                element_name=getattr(exc, "element_name", None),
            )
            raise

    def verify_history(self) -> dict[str, Any]:
        return self.history.verify()


def _known_lanes(organization: Any) -> Mapping[str, str] | None:
    """The organization's lane vocabulary; an organization written before lanes were checked
    (no `known_lanes`) resolves any lane, as LaneAsRole does."""
    known = getattr(organization, "known_lanes", None)
    return known() if callable(known) else None
