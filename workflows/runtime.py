"""Builds the engine with the domain plugged in: organization, service tasks, model functions."""

from __future__ import annotations

from typing import Any

from engine.clock import Clock, SystemClock
from engine.config import Settings
from engine.db import Database
from engine.engine import Engine
from engine.services import ServiceRegistry

from .organization import OrganizationDirectory, ProsecutorsOrganization, model_functions
from .pretrial import LocalPretrialRegister, PretrialRegister, pretrial_service

# start-data values queues filter on: where, who, which document
CASE_ATTRIBUTES = (
    "institution",
    "convict_name",
    "victim_name",
    "applicant_name",
    "addressee_name",
    "resolution_number",
    "origin_office",
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
    engine = Engine(
        db,
        settings.bpmn_dir,
        clock=clock,
        organization=ProsecutorsOrganization(directory),
        services=services,
        case_attributes=CASE_ATTRIBUTES,
        functions=model_functions(directory),  # e.g. act_addressee (workflows/organization.py)
        **overrides,
    )
    engine.extensions = {"directory": directory}  # type: ignore[attr-defined]
    return engine
