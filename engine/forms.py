"""The rules of a published form (form-js schema), applied by the engine to every submission.

A task's form and a process's start form travel with the published version; the engine checks
each start and completion against them, whoever calls (page, API, CLI), so one rule holds
everywhere. Submissions are JSON values (the web layer turns what a browser sends into such
values first).

Supported fields: textfield, textarea (text), number, checkbox, select, radio, datetime
(subtype ``date``: ``YYYY-MM-DD``; ``datetime``: an ISO instant with its UTC offset), filepicker
(``multiple``: uploads ``{"name", "content_type", "content_base64"}``, checked and stored by
engine/attachments.py; the case data keeps only each file's reference), also inside
``group`` components. Rules: ``validate.required``, ``min``, ``max``, ``minLength``,
``maxLength``, ``pattern`` (whole value), ``decimalDigits: 0`` for whole numbers, and
``conditional.hide`` with a small FEEL subset (see `compile_condition`). Text without a
``maxLength`` is limited to `DEFAULT_MAX_LENGTH` characters.

- A field that is hidden by its condition is neither required nor stored.
- Read-only and disabled fields show case data and are never taken from a submission.
- A checkbox that is not sent is false.
- Keys the form does not offer are refused, each named; a task without a form takes no data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from .attachments import MAX_STEP_BYTES, PendingFile, decode_uploads
from .data import KEY_PATTERN
from .errors import DataRejected, FieldProblem, ModelError, ValidationFailed

DEFAULT_MAX_LENGTH = 20_000
INPUT_TYPES = {
    "textfield",
    "textarea",
    "number",
    "checkbox",
    "select",
    "radio",
    "datetime",
    "filepicker",
}
TEXT_TYPES = {"textfield", "textarea"}

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INSTANT = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})", re.ASCII
)
_TIME = re.compile(r"\d{2}:\d{2}(:\d{2})?", re.ASCII)

Condition = Callable[[Mapping[str, Any]], Any]


# -- the FEEL subset of conditions -------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|=|<|>|\(|\))
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"unexpected '{text[pos:].strip()[:20]}'")
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif kind == "number":
            value = float(value) if "." in value else int(value)
        elif kind == "name" and value in ("true", "false", "null", "and", "or", "not"):
            kind = value if value in ("and", "or", "not") else "literal"
            value = {"true": True, "false": False, "null": None}.get(value, value)
        out.append((kind, value))
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return a == b


def _order(op: str) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))
        if not numbers and not (isinstance(a, str) and isinstance(b, str)):
            return False  # FEEL: comparing unlike values gives null, which does not hold
        return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]

    return compare


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, kind: str, value: Any = None) -> Any:
        token = self.peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            raise ValueError(f"expected {value or kind}")
        self.pos += 1
        return token[1]

    def parse(self) -> Condition:
        expr = self.disjunction()
        if self.peek() is not None:
            raise ValueError(f"unexpected '{self.peek()[1]}'")  # type: ignore[index]
        return expr

    def disjunction(self) -> Condition:
        parts = [self.conjunction()]
        while self.peek() == ("or", "or"):
            self.pos += 1
            parts.append(self.conjunction())
        if len(parts) == 1:
            return parts[0]
        return lambda ctx: any(p(ctx) is True for p in parts)

    def conjunction(self) -> Condition:
        parts = [self.comparison()]
        while self.peek() == ("and", "and"):
            self.pos += 1
            parts.append(self.comparison())
        if len(parts) == 1:
            return parts[0]
        return lambda ctx: all(p(ctx) is True for p in parts)

    def comparison(self) -> Condition:
        left = self.operand()
        token = self.peek()
        if token is None or token[0] != "op" or token[1] in ("(", ")"):
            return left
        self.pos += 1
        right = self.operand()
        op = token[1]
        if op == "=":
            return lambda ctx: _same(left(ctx), right(ctx))
        if op == "!=":
            return lambda ctx: not _same(left(ctx), right(ctx))
        compare = _order(op)
        return lambda ctx: compare(left(ctx), right(ctx))

    def operand(self) -> Condition:
        token = self.peek()
        if token is None:
            raise ValueError("the expression ends too early")
        kind, value = token
        self.pos += 1
        if kind == "not":
            self.take("op", "(")
            inner = self.disjunction()
            self.take("op", ")")
            return lambda ctx: inner(ctx) is not True
        if kind == "op" and value == "(":
            inner = self.disjunction()
            self.take("op", ")")
            return inner
        if kind in ("string", "number", "literal"):
            return lambda ctx: value
        if kind == "name":
            return lambda ctx: ctx.get(value)
        raise ValueError(f"unexpected '{value}'")


def compile_condition(text: str) -> Condition:
    """A form-js FEEL condition (``=findings != "torture"``) as a function of the data.

    The subset: comparisons ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``; ``and``, ``or``,
    ``not(...)``; parentheses; string, number, ``true``/``false``/``null`` literals; field
    names (a missing name is null). Raises ValueError for anything else.
    """
    body = text.strip()
    if not body.startswith("="):
        raise ValueError("a condition is a FEEL expression starting with '='")
    return _Parser(_tokens(body[1:])).parse()


# -- fields -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    key: str
    type: str
    subtype: str = ""
    required: bool = False
    readonly: bool = False
    options: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int = DEFAULT_MAX_LENGTH
    pattern: re.Pattern[str] | None = None
    whole: bool = False
    hide: Condition | None = None
    multiple: bool = False


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


def _field(c: dict[str, Any], name: str) -> Field:
    key = c["key"]
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key) or len(key) > 64:
        raise ModelError(f"field key '{key}' is not a plain data name", filename=name)
    rules = c.get("validate") or {}
    if not isinstance(rules, dict):
        raise ModelError(f"field '{key}': 'validate' must be an object", filename=name)
    pattern = None
    if rules.get("pattern"):
        try:
            pattern = re.compile(str(rules["pattern"]))
        except re.error as exc:
            raise ModelError(
                f"field '{key}': pattern does not compile: {exc}", filename=name
            ) from exc
    hide = None
    conditional = c.get("conditional") or {}
    if conditional.get("hide"):
        try:
            hide = compile_condition(str(conditional["hide"]))
        except ValueError as exc:
            raise ModelError(
                f"field '{key}': condition {conditional['hide']!r} is not supported ({exc})",
                filename=name,
            ) from exc
    if c["type"] in ("select", "radio") and not c.get("values"):
        raise ModelError(
            f"field '{key}' lists no values (options from data, 'valuesKey', are not "
            "supported: the engine must know the options of every published form)",
            filename=name,
        )
    decimals = c.get("decimalDigits")
    for number in ("min", "max", "minLength", "maxLength"):
        if number in rules and _number(rules[number]) is None:
            raise ModelError(f"field '{key}': {number} must be a number", filename=name)
    return Field(
        key=key,
        type=c["type"],
        subtype=str(c.get("subtype") or ("datetime" if c["type"] == "datetime" else "")),
        required=bool(rules.get("required")),
        readonly=bool(c.get("readonly") or c.get("disabled")),
        options=tuple(o.get("value") for o in (c.get("values") or []) if isinstance(o, dict)),
        minimum=rules.get("min"),
        maximum=rules.get("max"),
        min_length=rules.get("minLength"),
        max_length=int(rules.get("maxLength") or DEFAULT_MAX_LENGTH),
        pattern=pattern,
        whole=decimals == 0,
        hide=hide,
        multiple=bool(c.get("multiple")),
    )


def _components(components: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in components if isinstance(components, list) else []:
        if not isinstance(c, dict):
            continue
        if c.get("type") in INPUT_TYPES and c.get("key"):
            out.append(c)
        elif isinstance(c.get("components"), list):  # group, row layouts
            out.extend(_components(c["components"]))
    return out


# -- the form -----------------------------------------------------------------------------------


class Form:
    """A parsed form: its fields, and the check of a submission against them."""

    def __init__(self, fields: list[Field]) -> None:
        self.fields = tuple(fields)
        self.by_key = {f.key: f for f in fields}
        self.inputs = tuple(f for f in fields if not f.readonly)
        self.conditional = any(f.hide is not None for f in self.inputs)

    def validate(
        self, submission: Mapping[str, Any], context: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The cleaned values of `submission` (absent checkboxes false, hidden and empty
        optional fields left out), or `ValidationFailed` naming every broken field.

        `context` is the case data the form's conditions see besides the submitted values.
        A file field's value is the list of its files' references; the files themselves are
        only stored by a step, which calls `clean` instead."""
        return self.clean(submission, context)[0]

    def clean(
        self, submission: Mapping[str, Any], context: Mapping[str, Any] | None = None
    ) -> tuple[dict[str, Any], list[PendingFile]]:
        """`validate`, also returning the checked files the step must store
        (engine/attachments.py `store_files`) in the same transaction."""
        if not isinstance(submission, dict):
            raise DataRejected("the data must be a JSON object")
        problems: dict[str, FieldProblem] = {}
        for key in submission:
            field = self.by_key.get(key)
            if field is None:
                key = _shown(key)
                problems[key] = FieldProblem(
                    "unknown_field",
                    f"the form has no field '{key}'; remove it"
                    if self.fields
                    else f"this step has no form and takes no data; remove '{key}'",
                    field=key,
                )
            elif field.readonly:
                problems[key] = FieldProblem(
                    "read_only",
                    f"'{key}' is shown for information and cannot be set; remove it",
                    field=key,
                )
        scope: Mapping[str, Any] = submission
        if self.conditional:
            scope = {**(context or {}), **submission}
        cleaned: dict[str, Any] = {}
        files: list[PendingFile] = []
        budget = MAX_STEP_BYTES
        for field in self.inputs:
            if field.hide is not None and field.hide(scope) is True:
                continue
            value = submission.get(field.key)
            if field.type == "filepicker":
                if value is None or value == [] or value == "":
                    if field.required:
                        problems[field.key] = FieldProblem(
                            "file_required", "attach at least one file"
                        )
                    continue
                decoded = decode_uploads(field.key, value, multiple=field.multiple, budget=budget)
                if isinstance(decoded, FieldProblem):
                    problems[field.key] = decoded
                else:
                    budget -= sum(f.size for f in decoded)
                    files.extend(decoded)
                    cleaned[field.key] = [f.ref() for f in decoded]
                continue
            if field.type == "checkbox":
                if value is None:
                    cleaned[field.key] = False
                elif type(value) is bool:
                    cleaned[field.key] = value
                else:
                    problems[field.key] = FieldProblem(
                        "not_boolean", "the value must be true or false"
                    )
                continue
            if value is None or (isinstance(value, str) and not value.strip()):
                if field.required:
                    problems[field.key] = FieldProblem("required", "this field is required")
                continue
            problem = _check(field, value)
            if problem is not None:
                problems[field.key] = problem
            else:
                cleaned[field.key] = value
        if problems:
            raise ValidationFailed(problems)
        return cleaned, files


def _shown(key: Any) -> str:
    """A refused key as it can be named back (a hostile one may be long or not text)."""
    text = key if isinstance(key, str) else repr(key)
    return text if len(text) <= 64 else text[:64] + "…"


def _check(field: Field, value: Any) -> FieldProblem | None:
    kind = field.type
    if kind == "number":
        number = _number(value)
        if number is None or not math.isfinite(number):
            return FieldProblem("not_a_number", "the value must be a number")
        if field.whole and not float(number).is_integer():
            return FieldProblem("not_a_whole_number", "the value must be a whole number")
        if field.minimum is not None and number < field.minimum:
            return FieldProblem(
                "too_small", f"the value must be at least {field.minimum}", min=field.minimum
            )
        if field.maximum is not None and number > field.maximum:
            return FieldProblem(
                "too_large", f"the value must be at most {field.maximum}", max=field.maximum
            )
        return None
    if kind in ("select", "radio"):
        if not any(type(value) is type(o) and value == o for o in field.options):
            return FieldProblem(
                "not_an_option",
                "choose one of: " + ", ".join(str(o) for o in field.options),
                options=list(field.options),
            )
        return None
    if not isinstance(value, str):
        return FieldProblem("not_text", "the value must be text")
    if kind == "datetime":
        return _check_datetime(field, value)
    if len(value) > field.max_length:
        return FieldProblem(
            "too_long", f"at most {field.max_length} characters are allowed", max=field.max_length
        )
    if field.min_length is not None and len(value) < field.min_length:
        return FieldProblem(
            "too_short", f"at least {field.min_length} characters are needed", min=field.min_length
        )
    if field.pattern is not None and field.pattern.fullmatch(value) is None:
        return FieldProblem("pattern", "the value does not have the expected format")
    return None


def _check_datetime(field: Field, value: str) -> FieldProblem | None:
    if field.subtype == "date":
        try:
            if not _DATE.fullmatch(value):
                raise ValueError(value)
            date.fromisoformat(value)
        except ValueError:
            return FieldProblem("not_a_date", "the value must be a real date as YYYY-MM-DD")
        return None
    if field.subtype == "time":
        if not _TIME.fullmatch(value) or int(value[:2]) > 23 or int(value[3:5]) > 59:
            return FieldProblem("not_a_time", "the value must be a time as HH:MM")
        return None
    try:
        if not _INSTANT.fullmatch(value):
            raise ValueError(value)
        datetime.fromisoformat(value)
    except ValueError:
        return FieldProblem(
            "not_an_instant",
            "the value must be a real date and time with its UTC offset, "
            "e.g. 2026-11-24T10:00:00+05:00",
        )
    return None


def parse_form(schema: Any, name: str = "") -> Form:
    """A form-js schema as a `Form`; raises `ModelError` for what the engine cannot enforce."""
    if not isinstance(schema, dict) or not isinstance(schema.get("components"), list):
        raise ModelError("form must be a form-js schema with a 'components' list", filename=name)
    fields: list[Field] = []
    seen: set[str] = set()
    for c in _components(schema["components"]):
        field = _field(c, name)
        if field.key in seen:
            raise ModelError(f"field key '{field.key}' appears twice", filename=name)
        seen.add(field.key)
        fields.append(field)
    return Form(fields)


#: The rule of a task without a form: it takes no data.
NO_FORM = Form([])
