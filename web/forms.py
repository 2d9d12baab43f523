"""Task and start forms from bpmn.io form-js schemas: rendered by Jinja, validated on the server.

Supported field types: textfield, textarea, number, checkbox, select, radio, datetime; rules:
required, min, max, minLength, maxLength, pattern. Read-only fields show case data and are
never taken from the submission. Labels may carry translations as form-js custom properties
(`properties.label_kk`, `properties.label_en`; option entries `label_kk`, `label_en`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext

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

    @property
    def required(self) -> bool:
        return bool(self.rules.get("required"))

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


def parse(fields: list[FormField], form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Values typed as the fields say, and a message per field that breaks its rules."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        if f.readonly:
            continue
        if f.type == "checkbox":
            values[f.key] = form.get(f.key) in ("on", "true", "1")
            continue
        raw = (form.get(f.key) or "").strip()
        if not raw:
            if f.required:
                errors[f.key] = gettext("This field is required.")
            continue
        if f.type == "number":
            try:
                number = float(raw.replace(",", "."))
            except ValueError:
                errors[f.key] = gettext("Enter a number.")
                continue
            if "min" in f.rules and number < f.rules["min"]:
                errors[f.key] = gettext("Not less than %(n)s.", n=f.rules["min"])
            elif "max" in f.rules and number > f.rules["max"]:
                errors[f.key] = gettext("Not more than %(n)s.", n=f.rules["max"])
            values[f.key] = int(number) if number.is_integer() else number
            continue
        if f.type in ("select", "radio"):
            chosen = [o["value"] for o in f.options if str(o["value"]) == raw]
            if not chosen:
                errors[f.key] = gettext("Choose a value from the list.")
            else:
                values[f.key] = chosen[0]  # the option's own value (a number stays a number)
            continue
        if f.type == "datetime":
            try:
                values[f.key] = _datetime(raw, f.subtype)
            except ValueError:
                errors[f.key] = gettext("Enter a date and time.")
            continue
        if "minLength" in f.rules and len(raw) < f.rules["minLength"]:
            errors[f.key] = gettext("At least %(n)s characters.", n=f.rules["minLength"])
        elif "maxLength" in f.rules and len(raw) > f.rules["maxLength"]:
            errors[f.key] = gettext("At most %(n)s characters.", n=f.rules["maxLength"])
        elif "pattern" in f.rules and not re.fullmatch(f.rules["pattern"], raw):
            errors[f.key] = gettext("The value does not match the expected format.")
        values[f.key] = raw
    return values, errors


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
