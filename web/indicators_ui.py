"""Supervision indicators page (`/indicators`), its CSV (`/indicators.csv`) and the cases behind
each figure (`/indicators/cases`).

The figures come from workflows/indicators.py, the same function the REST API, the CLI and the
quarterly reports call; this module only chooses the office and period, checks the rule
(`may_see_indicators`) and puts words beside the numbers. Each section is a table of numbers
beside a Chart.js chart; the chart's data travels in a JSON script tag (type
application/json) read by web/static/indicators.js, so the CSP needs no inline script.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from functools import lru_cache
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required

from engine.calendar import ALMATY
from engine.config import PROJECT_ROOT
from workflows.catalogue import procedure_title
from workflows.indicators import (
    BadPeriod,
    case_ids,
    case_rows,
    figures,
    flat,
    may_see_indicators,
    parse_period,
    quarter_presets,
)
from workflows.rights import Refusal

from .case_file import office_name
from .i18n import local_date, local_time, locale_code, translated
from .refusals import mark_denied

indicators_ui = Blueprint("indicators", __name__)

#: at most this many cases are listed behind one figure (the count says how many there are)
MAX_LISTED = 500

SECTIONS: dict[str, Any] = {
    "penalty_room_checks": lazy_gettext("Penalty-room checks within 24 / 48 hours"),
    "emergencies": lazy_gettext("Emergencies by kind"),
    "incidents": lazy_gettext("Incidents by kind"),
    "notices": lazy_gettext("Notices within 1 h / 3 h / 24 h"),
    "torture_reports": lazy_gettext("Reports of torture and unlawful influence"),
    "appeals": lazy_gettext("Appeals answered within their deadline"),
    "acts": lazy_gettext("Acts of response"),
    "receptions": lazy_gettext("Receptions against the calendar"),
}
WORDS: dict[str, Any] = {
    "total": lazy_gettext("total"),
    "in_time": lazy_gettext("done in time"),
    "late": lazy_gettext("done late"),
    "open": lazy_gettext("open"),
    "overdue": lazy_gettext("open past the deadline"),
    "term_24h": lazy_gettext("term 24 hours"),
    "term_48h": lazy_gettext("term 48 hours (remote institution)"),
    "1h": lazy_gettext("notice to the GP unit within 1 hour"),
    "3h": lazy_gettext("full information within 3 hours"),
    "24h": lazy_gettext("information to the GP unit within 24 hours"),
    "immediate": lazy_gettext("immediate notice to the regional office"),
    "registered": lazy_gettext("registered in the pre-trial register"),
    "not_registered": lazy_gettext("not registered (refusal approved)"),
    "pending": lazy_gettext("decision pending"),
    "registered_within_24h": lazy_gettext("registered within 24 hours of receipt"),
    "hours_to_registration": lazy_gettext("hours from receipt to registration"),
    "median": lazy_gettext("median"),
    "max": lazy_gettext("longest"),
    "by_kind": lazy_gettext("by kind"),
    "by_route": lazy_gettext("signed by"),
    "by_type": lazy_gettext("by type"),
    "by_outcome": lazy_gettext("by outcome"),
    "district": lazy_gettext("district office"),
    "regional": lazy_gettext("regional office"),
    "gp": lazy_gettext("General Prosecutor's Office"),
    "unknown": lazy_gettext("not stated"),
    "in_review": lazy_gettext("in review"),
    "refused": lazy_gettext("refused"),
    "to_dispatch": lazy_gettext("to be sent"),
    "dispatched": lazy_gettext("sent to the addressee"),
    "no_answer_in_time": lazy_gettext("no answer in time"),
    "held": lazy_gettext("held"),
    "expected": lazy_gettext("expected by the calendar"),
}
#: where a value's words come from a model's form (kinds, act types): form file, field key
MODEL_OPTIONS = {
    "emergencies": ("emergency_report/start.form.json", "kind"),
    "incidents": ("incident_report/start.form.json", "kind"),
    "acts": ("act_routing/act_review.form.json", "act_type"),
}


@lru_cache(maxsize=8)
def _options(path: str, key: str) -> dict[str, dict[str, str]]:
    """A select field's option labels by locale, from the model's form (its own translations)."""
    try:
        form = json.loads((PROJECT_ROOT / "bpmn" / path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    for component in form.get("components", []):
        if component.get("key") == key:
            return {
                str(v["value"]): {
                    "ru": v.get("label", ""),
                    "kk": v.get("label_kk", ""),
                    "en": v.get("label_en", ""),
                }
                for v in component.get("values", [])
            }
    return {}


def figure_label(key: str) -> str:
    """A dotted figure key in words: "emergencies.by_kind.riot" -> "Riot"; the last part names
    it, its parents say where it belongs ("term 24 hours: done late")."""
    parts = key.split(".")
    section, last = parts[0], parts[-1]
    if section in MODEL_OPTIONS and len(parts) == 3 and parts[1] in ("by_kind", "by_type"):
        labels = _options(*MODEL_OPTIONS[section]).get(last)
        if labels:
            return translated(labels.get("ru", last), labels)
    words = [str(WORDS.get(p, p)) for p in parts[1:]]
    if len(words) > 1 and parts[1] in ("by_kind", "by_type", "by_route", "by_outcome"):
        words = words[1:]
    return ": ".join(words) if words else str(SECTIONS.get(section, section))


def _refusal_text(refusal: Refusal) -> str:
    if refusal.code == "no_indicators_role":
        return gettext("The indicators are read by heads of office, the GP unit and auditors.")
    if refusal.code == "indicators_out_of_scope":
        return gettext(
            "Office %(office)s is outside your office's scope.", office=refusal.params["office"]
        )
    if refusal.code == "unknown_office":
        return gettext("There is no such office.")
    return refusal.message


def _period_text(exc: BadPeriod) -> str:
    if exc.field == "from":
        return gettext("The start of the period must be a date.")
    if "before" in str(exc):
        return gettext("The end of the period must not be before its start.")
    if exc.field == "to" and "three" in str(exc):
        return gettext("The period may be at most three years long.")
    return gettext("The end of the period must be a date.")


def _today() -> date:
    engine = current_app.extensions["nadzor.engine"]
    return engine.clock.now().astimezone(ALMATY).date()


def _request_args() -> tuple[str, date, date, str | None]:
    """Office and period from the query, or an error text for the page (status 400/403)."""
    user = current_user.user
    office = (request.args.get("office") or user.office_code).strip()
    try:
        start, end = parse_period(request.args.get("from"), request.args.get("to"), _today())
    except BadPeriod as exc:
        start, end = quarter_presets(_today(), 1)[0][1:]
        return office, start, end, _period_text(exc)
    return office, start, end, None


def _check(office: str) -> Refusal | None:
    directory = current_app.extensions["nadzor.directory"]
    refusal = may_see_indicators(directory, current_user.user, office)
    if refusal is not None:
        mark_denied(refusal)
    return refusal


def _offices_to_choose() -> list[tuple[str, str]]:
    """The user's office and those below it, by name, the user's own first."""
    directory = current_app.extensions["nadzor.directory"]
    user, locale = current_user.user, locale_code()
    codes = sorted(directory.offices_within(user.office_code) - {user.office_code})
    return [(c, office_name(directory, c, locale)) for c in [user.office_code, *codes]]


def _sections(result: dict[str, Any], links: dict[str, str]) -> list[dict[str, Any]]:
    """Each section: its rows (label, value, link) and its chart's data."""
    out = []
    for key, title in SECTIONS.items():
        rows = []
        for path, value in flat({key: result[key]}):
            rows.append(
                {
                    "key": path,
                    "label": figure_label(path),
                    "value": "—" if value is None else value,
                    "href": links.get(path),
                }
            )
        chart_rows = [
            r
            for r in rows
            if isinstance(r["value"], int)
            and not r["key"].endswith(".total")
            and ".term_" not in r["key"]
            and "hours_to_registration" not in r["key"]
        ]
        out.append(
            {
                "key": key,
                "title": str(title),
                "rows": rows,
                "chart": {
                    "labels": [r["label"] for r in chart_rows],
                    "values": [r["value"] for r in chart_rows],
                    "label": str(title),
                },
            }
        )
    return out


@indicators_ui.get("/indicators")
@login_required
def page() -> Any:
    office, start, end, error = _request_args()
    refusal = _check(office)
    if refusal is not None and refusal.code == "no_indicators_role":
        return render_template("indicators/denied.html", message=_refusal_text(refusal)), 403
    if refusal is not None:
        error, office = _refusal_text(refusal), current_user.user.office_code
    engine = current_app.extensions["nadzor.engine"]
    result = figures(engine.db, office, start, end, now=engine.clock.now())
    params = {"office": office, "from": start.isoformat(), "to": end.isoformat()}
    links = {
        path: url_for("indicators.cases", figure=path, **params)
        for path, value in flat(result)
        if isinstance(value, int)
        and value > 0
        and "hours_to_registration" not in path
        and path != "receptions.expected"  # the calendar's count, not cases
    }
    directory = current_app.extensions["nadzor.directory"]
    status = 400 if error and refusal is None else (403 if refusal is not None else 200)
    return (
        render_template(
            "indicators/page.html",
            sections=_sections(result, links),
            office=office,
            office_label=office_name(directory, office, locale_code()),
            offices=_offices_to_choose(),
            start=start,
            end=end,
            start_label=local_date(start),
            end_label=local_date(end),
            presets=[
                (gettext("Q%(q)s %(year)s", q=(qs.month - 1) // 3 + 1, year=qs.year), qs, qe)
                for _label, qs, qe in quarter_presets(_today())
            ],
            csv_href=url_for("indicators.export", **params),
            computed_at=local_time(engine.clock.now()),
            error=error,
        ),
        status,
    )


@indicators_ui.get("/indicators.csv")
@login_required
def export() -> Any:
    """The same figures as rows: section, figure key, words, value (UTF-8 with a BOM, so that a
    spreadsheet opens Cyrillic and Kazakh letters right)."""
    office, start, end, error = _request_args()
    if error:
        return Response(error, status=400, mimetype="text/plain")
    refusal = _check(office)
    if refusal is not None:
        return Response(_refusal_text(refusal), status=403, mimetype="text/plain")
    engine = current_app.extensions["nadzor.engine"]
    result = figures(engine.db, office, start, end, now=engine.clock.now())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            gettext("Office"),
            gettext("From"),
            gettext("To"),
            gettext("Figure"),
            "key",
            gettext("Value"),
        ]
    )
    for path, value in flat(result):
        section = str(SECTIONS.get(path.split(".")[0], ""))
        label = f"{section} — {figure_label(path)}"
        writer.writerow(
            [
                office,
                start.isoformat(),
                end.isoformat(),
                label,
                path,
                "" if value is None else value,
            ]
        )
    name = f"indicators-{office}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@indicators_ui.get("/indicators/cases")
@login_required
def cases() -> Any:
    """The cases behind one figure, newest first, each linking to its case page."""
    office, start, end, error = _request_args()
    refusal = _check(office)
    if refusal is not None:
        return render_template("indicators/denied.html", message=_refusal_text(refusal)), 403
    if error:
        return render_template("indicators/denied.html", message=error), 400
    figure = request.args.get("figure", "")
    if not figure:  # reached without a figure (a bookmark): say where the figures are
        return render_template(
            "indicators/denied.html",
            message=gettext("Choose a figure on the indicators page: its number lists its cases."),
        )
    known = {path for path, _ in flat(_empty_shape())}
    sections = {p.split(".")[0] for p in known}
    if figure not in known and figure not in sections:
        return render_template("indicators/denied.html", message=gettext("Unknown figure.")), 400
    engine = current_app.extensions["nadzor.engine"]
    ids = case_ids(engine.db, office, start, end, figure, now=engine.clock.now())
    locale = locale_code()
    directory = current_app.extensions["nadzor.directory"]
    listed = [
        {
            "id": row.id,
            "procedure": procedure_title(row.process_id, locale),
            "opened": local_time(row.created_at),
            "office": office_name(
                current_app.extensions["nadzor.directory"], row.office_code, locale
            ),
            "status": gettext("closed") if row.status == "completed" else gettext("in progress"),
        }
        for row in case_rows(engine.db, ids[:MAX_LISTED])
    ]
    section = str(SECTIONS.get(figure.split(".")[0], ""))
    return render_template(
        "indicators/cases.html",
        title=f"{section} — {figure_label(figure)}" if "." in figure else section,
        cases=listed,
        count=len(ids),
        limit=MAX_LISTED,
        back=url_for(
            "indicators.page", office=office, **{"from": start.isoformat(), "to": end.isoformat()}
        ),
        office_label=office_name(directory, office, locale),
        start_label=local_date(start),
        end_label=local_date(end),
    )


@lru_cache(maxsize=1)
def _empty_shape() -> dict[str, Any]:
    """The figures' keys (computed once over no cases) to check a figure name against."""
    from workflows.indicators import empty_figures

    return empty_figures()
