"""Task and start forms from bpmn.io form-js schemas: rendered by Jinja; what a browser sends
is turned into JSON values and checked by the engine (engine/forms.py), like every API call.

Supported field types: textfield, textarea, number, checkbox, select, radio, datetime. Read-only
fields show case data and are never taken from the submission. Labels may carry translations as
form-js custom properties (`properties.label_kk`, `properties.label_en`; option entries
`label_kk`, `label_en`). The engine's problems (codes) are worded here, in the user's language,
for the page and the API alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext

from engine.errors import DataRejected, FieldProblem, ValidationFailed

INPUT_TYPES = {"textfield", "textarea", "number", "checkbox", "select", "radio", "datetime"}
LOCAL_ZONE = ZoneInfo("Asia/Almaty")


@dataclass
class FormField:
    key: str
    type: str
    label: str
    readonly: bool = False
    options: list[dict[str, Any]] = field(default_factory=list)
    rules: dict[str, Any] = field(default_factory=dict)
    default: Any = None
    subtype: str = ""
    description: str = ""
    conditional: bool = False  # required only when its condition shows it (engine/forms.py)

    @property
    def required(self) -> bool:
        return bool(self.rules.get("required")) and not self.conditional

    @property
    def input_type(self) -> str:
        if self.type == "number":
            return "number"
        if self.type == "datetime":
            return "date" if self.subtype == "date" else "datetime-local"
        return "text"


def _in(locale: str, base: dict[str, Any], props: dict[str, Any], name: str) -> str:
    return str(
        props.get(f"{name}_{locale}") or base.get(f"{name}_{locale}") or base.get(name) or ""
    )


def fields_of(schema: dict[str, Any] | None, locale: str = "ru") -> list[FormField]:
    out = []
    for c in (schema or {}).get("components", []):
        if c.get("type") not in INPUT_TYPES or not c.get("key"):
            continue
        props = c.get("properties") or {}
        options = [
            {"value": o.get("value"), "label": _in(locale, o, {}, "label") or str(o.get("value"))}
            for o in (c.get("values") or [])
        ]
        out.append(
            FormField(
                key=c["key"],
                type=c["type"],
                label=_in(locale, c, props, "label") or c["key"],
                readonly=bool(c.get("readonly") or c.get("disabled")),
                options=options,
                rules=dict(c.get("validate") or {}),
                default=c.get("defaultValue"),
                subtype=str(c.get("subtype") or ""),
                description=_in(locale, c, props, "description"),
                conditional=bool((c.get("conditional") or {}).get("hide")),
            )
        )
    return out


def raw_values(fields: list[FormField], form: Any) -> dict[str, Any]:
    """What was typed, as typed (for a draft, or to show a rejected form again)."""
    out: dict[str, Any] = {}
    for f in fields:
        if f.readonly:
            continue
        if f.type == "checkbox":
            out[f.key] = form.get(f.key) in ("on", "true", "1")
        elif form.get(f.key) is not None:
            out[f.key] = str(form.get(f.key))[:20000]
    return out


def _datetime(raw: str, subtype: str) -> str:
    """An input's local wall time as the model's ISO value (dates stay dates)."""
    if subtype == "date":
        return datetime.strptime(raw, "%Y-%m-%d").date().isoformat()
    value = datetime.fromisoformat(raw)
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_ZONE)
    return value.isoformat()


def coerce(fields: list[FormField], form: Any) -> dict[str, Any]:
    """What a browser sent (strings) as the JSON values the engine's form rules check.

    Only the form's own editable fields are read. Nothing is judged here: text that is not a
    number or a date is passed on as typed, so the engine refuses it with the same message the
    API gives (engine/forms.py holds the rules)."""
    values: dict[str, Any] = {}
    for f in fields:
        if f.readonly:
            continue
        if f.type == "checkbox":
            values[f.key] = form.get(f.key) in ("on", "true", "1")
            continue
        raw = (form.get(f.key) or "").strip()
        if not raw:
            continue  # absent: the engine says whether the field is required
        if f.type == "number":
            try:
                number = float(raw.replace(",", ".").replace(" ", ""))
            except ValueError:
                values[f.key] = raw
                continue
            values[f.key] = int(number) if number.is_integer() and abs(number) < 2**53 else number
        elif f.type in ("select", "radio"):
            chosen = [o["value"] for o in f.options if str(o["value"]) == raw]
            values[f.key] = chosen[0] if chosen else raw  # the option's own value and type
        elif f.type == "datetime":
            try:
                values[f.key] = _datetime(raw, f.subtype)
            except ValueError:
                values[f.key] = raw
        else:
            values[f.key] = raw
    return values


def problem_text(problem: FieldProblem) -> str:
    """One field's broken rule in the user's language (the page and the API say the same)."""
    p = problem.params
    code = problem.code
    if code == "required":
        return gettext("This field is required.")
    if code == "not_a_number":
        return gettext("Enter a number.")
    if code == "not_a_whole_number":
        return gettext("Enter a whole number.")
    if code == "too_small":
        return gettext("Not less than %(n)s.", n=p.get("min"))
    if code == "too_large":
        return gettext("Not more than %(n)s.", n=p.get("max"))
    if code == "not_an_option":
        return gettext("Choose a value from the list.")
    if code == "not_a_date":
        return gettext("Enter a real date (YYYY-MM-DD).")
    if code == "not_an_instant":
        return gettext(
            "Enter a real date and time with its UTC offset, e.g. 2026-11-24T10:00:00+05:00."
        )
    if code == "not_a_time":
        return gettext("Enter a time (HH:MM).")
    if code == "too_short":
        return gettext("At least %(n)s characters.", n=p.get("min"))
    if code == "too_long":
        return gettext("At most %(n)s characters.", n=p.get("max"))
    if code == "pattern":
        return gettext("The value does not match the expected format.")
    if code == "not_text":
        return gettext("Enter text.")
    if code == "not_boolean":
        return gettext("The value must be true or false.")
    if code == "unknown_field":
        return gettext("This form has no such field; remove it.")
    if code == "read_only":
        return gettext("This field is shown for information and cannot be set; remove it.")
    if code == "unknown_institution":
        return gettext("No institution has this code; choose one from the list.")
    return problem.message


def problem_texts(exc: ValidationFailed) -> dict[str, str]:
    """Field key -> its message in the user's language."""
    return {key: problem_text(problem) for key, problem in exc.fields.items()}


def data_rejected_text(exc: DataRejected) -> str:
    """Data outside the engine's limits (engine/data.py), said in the user's language."""
    return gettext(
        "The data cannot be stored and nothing was saved (%(where)s): %(detail)s",
        where=exc.path or "—",
        detail=str(exc),
    )


def problems_json(exc: ValidationFailed) -> dict[str, dict[str, Any]]:
    """Field key -> {code, params}: for clients that word the messages themselves."""
    return {
        key: {"code": problem.code, "params": problem.params} for key, problem in exc.fields.items()
    }


_LABELS: dict[tuple[int, str], dict[str, str]] = {}


def field_labels(definition: Any, locale: str) -> dict[str, str]:
    """Data key -> the label some form of the version gives it (for showing case data)."""
    key = (definition.id, locale)
    cached = _LABELS.get(key)
    if cached is not None:
        return cached
    labels: dict[str, str] = {}
    for path in sorted(definition.files):
        if path.endswith(".form.json"):
            for f in fields_of(definition.form(path), locale):
                labels.setdefault(f.key, f.label)
    _LABELS[key] = labels
    return labels
