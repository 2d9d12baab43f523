"""Builds the engine with the domain plugged in: organization, service tasks, model functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.clock import Clock, SystemClock
from engine.config import Settings
from engine.db import Database
from engine.engine import Engine
from engine.schedules import StartOffices
from engine.services import ServiceRegistry

from .organization import OrganizationDirectory, ProsecutorsOrganization, model_functions
from .pretrial import LocalPretrialRegister, PretrialRegister, pretrial_service
from .quarterly import figures_service, quarterly_functions

#: the levels of the offices tree as models name them (`start_for` of a scheduled start)
OFFICE_LEVELS: tuple[str, ...] = ("district", "regional", "gp")

# start-data values queues filter on: where, who, which document
CASE_ATTRIBUTES = (
    "institution",
    "convict_name",
    "victim_name",
    "applicant_name",
    "addressee_name",
    "resolution_number",
    "origin_office",
    "scheduled_at",  # a scheduled start's occurrence: a region's report finds its districts'
)


def build_engine(
    settings: Settings,
    *,
    clock: Clock | None = None,
    pretrial: PretrialRegister | None = None,
    db: Database | None = None,
    **overrides: Any,
) -> Engine:
    db = db or Database(settings.database_url)
    clock = clock or SystemClock()
    directory = OrganizationDirectory(db)
    services = ServiceRegistry()
    services.register(
        "pretrial_register", pretrial_service(pretrial or LocalPretrialRegister(db, clock))
    )
    services.register("quarter_figures", figures_service(db, clock))  # quarterly_report's snapshot
    engine = Engine(
        db,
        settings.bpmn_dir,
        clock=clock,
        organization=ProsecutorsOrganization(directory),
        services=services,
        case_attributes=CASE_ATTRIBUTES,
        # e.g. act_addressee (workflows/organization.py), quarter_end (workflows/quarterly.py)
        functions={**model_functions(directory), **quarterly_functions()},
        start_offices=start_offices(directory),  # scheduled starts: start_for="district" …
        **overrides,
    )
    engine.extensions = {"directory": directory}  # type: ignore[attr-defined]
    return engine


def start_offices(directory: OrganizationDirectory) -> StartOffices:
    """The offices a scheduled start names by level (`start_for="district,regional"`): every
    office of those levels in the directory, in code order."""

    def resolve(levels: Sequence[str]) -> list[str]:
        return sorted(o.code for o in directory.offices() if o.level in levels)

    return StartOffices(levels=OFFICE_LEVELS, resolve=resolve)
