"""The quarterly report's panel on its task page (procedure `quarterly_report`): the quarter's
figures as they were snapshotted into the case, and, on the regional office's task, which of
its districts have sent their information (¶13.17) — on the GP unit's, which regions have sent
their analyses (¶11.9).

Reads the case data and workflows/quarterly.py only; the figures' words are the indicators
page's (web/indicators_ui.py), so a figure is named the same everywhere.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, url_for

from engine.models import as_utc
from engine.tasks import TaskView
from workflows.indicators import flat
from workflows.quarterly import PROCESS_ID, subordinate_reports

from .i18n import local_date, local_time, translated
from .indicators_ui import SECTIONS, figure_label
from .tasks_ui import engine

#: the tasks that show their subordinates' reports (bpmn/quarterly_report): task -> level
SUBORDINATES_SHOWN = {"regional_report": "regional", "gp_report": "gp"}


def _day(value: Any) -> str:
    try:
        return local_date(date.fromisoformat(str(value)[:10]))
    except ValueError:
        return "—"


def _sections(figures: dict[str, Any]) -> list[dict[str, Any]]:
    sections = []
    for key, title in SECTIONS.items():
        if key not in figures:
            continue
        rows = [
            {"key": path, "label": figure_label(path), "value": "—" if value is None else value}
            for path, value in flat({key: figures[key]})
        ]
        sections.append({"key": key, "title": str(title), "rows": rows})
    return sections


def _subordinates(office: str, level: str, scheduled_at: str) -> list[dict[str, Any]]:
    eng, directory = engine(), current_app.extensions["nadzor.directory"]
    rows = []
    for report in subordinate_reports(eng.db, office, level, scheduled_at):
        office = directory.office(report.office_code)
        rows.append(
            {
                "code": report.office_code,
                "name": translated(office.name, office.names) if office else report.office_code,
                "sent": report.sent_at is not None,
                "at": local_time(report.sent_at) if report.sent_at else "",
                "href": url_for("cases.case_page", instance_id=report.instance_id)
                if report.instance_id
                else None,
            }
        )
    return rows


def quarter_panel(task: TaskView) -> dict[str, Any] | None:
    """What the report's task page shows above its form, or None for other procedures."""
    if task.process_id != PROCESS_ID:
        return None
    data = engine().runtime.data(task.instance_id)
    figures = data.get("figures") if isinstance(data.get("figures"), dict) else {}
    scheduled_at = data.get("scheduled_at")
    return {
        "quarter": data.get("quarter") or "",
        "period_start": _day(data.get("period_start")),
        "period_end": _day(data.get("period_end")),
        "computed_at": local_time(as_utc(figures["computed_at"]))
        if figures.get("computed_at")
        else "",
        "sections": _sections(figures),
        "level": SUBORDINATES_SHOWN.get(task.task_name),
        "districts": _subordinates(
            str(data.get("origin_office")), SUBORDINATES_SHOWN[task.task_name], str(scheduled_at)
        )
        if task.task_name in SUBORDINATES_SHOWN and scheduled_at
        else None,
    }
