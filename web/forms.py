"""Task forms from bpmn.io form-js schemas: rendered by Jinja, validated on the server.

Supported field types: textfield, textarea, number, checkbox, select, radio, datetime; rules:
required, min, max, minLength, maxLength, pattern. Read-only fields show case data and are
never taken from the submission.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

INPUT_TYPES = {"textfield", "textarea", "number", "checkbox", "select", "radio", "datetime"}


@dataclass
class FormField:
    key: str
    type: str
    label: str
    readonly: bool = False
    options: list[dict[str, Any]] = field(default_factory=list)
    rules: dict[str, Any] = field(default_factory=dict)
    default: Any = None

    @property
    def required(self) -> bool:
        return bool(self.rules.get("required"))


def fields_of(schema: dict[str, Any] | None) -> list[FormField]:
    out = []
    for c in (schema or {}).get("components", []):
        if c.get("type") in INPUT_TYPES and c.get("key"):
            out.append(
                FormField(
                    key=c["key"],
                    type=c["type"],
                    label=c.get("label", c["key"]),
                    readonly=bool(c.get("readonly") or c.get("disabled")),
                    options=list(c.get("values") or []),
                    rules=dict(c.get("validate") or {}),
                    default=c.get("defaultValue"),
                )
            )
    return out


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
                errors[f.key] = "Обязательное поле."
            continue
        if f.type == "number":
            try:
                number = float(raw.replace(",", "."))
            except ValueError:
                errors[f.key] = "Введите число."
                continue
            if "min" in f.rules and number < f.rules["min"]:
                errors[f.key] = f"Не меньше {f.rules['min']}."
            elif "max" in f.rules and number > f.rules["max"]:
                errors[f.key] = f"Не больше {f.rules['max']}."
            values[f.key] = int(number) if number.is_integer() else number
            continue
        if f.type in ("select", "radio"):
            allowed = {str(o.get("value")) for o in f.options}
            if raw not in allowed:
                errors[f.key] = "Выберите значение из списка."
                continue
        if "minLength" in f.rules and len(raw) < f.rules["minLength"]:
            errors[f.key] = f"Не короче {f.rules['minLength']} символов."
        elif "maxLength" in f.rules and len(raw) > f.rules["maxLength"]:
            errors[f.key] = f"Не длиннее {f.rules['maxLength']} символов."
        elif "pattern" in f.rules and not re.fullmatch(f.rules["pattern"], raw):
            errors[f.key] = "Значение не соответствует формату."
        values[f.key] = raw
    return values, errors
