"""Task and start forms from bpmn.io form-js schemas: rendered by Jinja; what a browser sends
is turned into JSON values and checked by the engine (engine/forms.py), like every API call.

Supported field types: textfield, textarea, number, checkbox, select, radio, datetime,
filepicker (an `<input type=file>`; the form is sent as multipart/form-data and each file becomes
the upload `{"name", "content_type", "content_base64"}` the API takes, engine/attachments.py).
Read-only fields show case data and are never taken from the submission. Labels may carry
translations as form-js custom properties (`properties.label_kk`, `properties.label_en`; option
entries `label_kk`, `label_en`). The engine's problems (codes) are worded here, in the user's
language, for the page and the API alike.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from babel.dates import get_month_names
from flask_babel import format_decimal, gettext

from engine.attachments import MAX_FILE_BYTES, MAX_FILES, MAX_STEP_BYTES
from engine.errors import DataRejected, FieldProblem, ValidationFailed
from engine.forms import DEFAULT_MAX_LENGTH, INPUT_TYPES

from .i18n import LOCAL_ZONE


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
    multiple: bool = False  # a filepicker that takes several files

    @property
    def required(self) -> bool:
        return bool(self.rules.get("required")) and not self.conditional

    @property
    def input_type(self) -> str:
        """Dates are text inputs: `<input type=date>` shows the browser's own locale (mm/dd/yyyy
        in an English Chromium) whatever the user chose here; we show and read DD.MM.YYYY."""
        if self.type == "number":
            return "number"
        if self.type == "filepicker":
            return "file"
        return "text"

    @property
    def date_kind(self) -> str:
        """The kind of a date field ("date", "time" or "datetime"); "" for other fields."""
        if self.type != "datetime":
            return ""
        return self.subtype if self.subtype in ("date", "time") else "datetime"

    @property
    def input_pattern(self) -> str:
        """What the input's `pattern` suggests (the server also reads ISO and month names)."""
        day = r"[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4}|[0-9]{8}"
        clock = r"[0-9]{1,2}[:.][0-9]{2}"
        return {"date": day, "time": clock}.get(self.date_kind, rf"({day}),?\s*{clock}")

    @property
    def input_hint(self) -> str:
        """The format under the field, in the user's language (ДД.ММ.ГГГГ in Russian)."""
        kind = self.date_kind
        if kind == "date":
            return gettext("Format: DD.MM.YYYY, for example 24.11.2026.")
        if kind == "time":
            return gettext("Format: HH:MM (24 hours), for example 14:05.")
        if kind == "datetime":
            return gettext("Format: DD.MM.YYYY HH:MM, Almaty time, for example 24.11.2026 14:05.")
        if self.type == "filepicker":
            return file_limits_text(self.multiple)
        return ""


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
                multiple=bool(c.get("multiple")),
            )
        )
    return out


def raw_values(fields: list[FormField], form: Any) -> dict[str, Any]:
    """What was typed, as typed (for a draft, or to show a rejected form again)."""
    out: dict[str, Any] = {}
    for f in fields:
        if f.readonly or f.type == "filepicker":  # a browser cannot be given a file back
            continue
        if f.type == "checkbox":
            out[f.key] = form.get(f.key) in ("on", "true", "1")
        elif form.get(f.key) is not None:
            out[f.key] = str(form.get(f.key))[:DEFAULT_MAX_LENGTH]
    return out


def _month_names() -> dict[str, int]:
    """Month names and abbreviations of every UI language ("dec", "декабря", "желтоқсан")."""
    names: dict[str, int] = {}
    for locale in ("ru", "kk", "en"):
        for context in ("format", "stand-alone"):
            for width in ("abbreviated", "wide"):
                for number, name in get_month_names(width, context, locale).items():
                    names.setdefault(name.lower().rstrip("."), number)
    return names


_MONTHS = _month_names()
_DAY_FIRST = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DIGITS_DATE = re.compile(r"(\d{2})(\d{2})(\d{4})")  # a numeric keypad has no dot
_TIME = re.compile(r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?")
_WORDS = re.compile(r"[^\W\d_]+\.?|\d+")
_YEAR_MARKS = {"г", "г.", "ж", "ж.", "года", "год", "жыл", "жылы"}


def parse_local_date(raw: str) -> date:
    """A date as people type it: day first ("02.12.2026", "2.12.2026", "02122026"), ISO
    ("2026-12-02"), or with the month's name in any UI language ("2 Dec 2026", "2 декабря
    2026 г.", "2026 ж. 2 желтоқсан"). The year has four digits: "02.12.26" is refused
    (ValueError) rather than guessed, and so is the US order, which no form here uses."""
    text = raw.strip()
    for pattern, order in ((_DAY_FIRST, (3, 2, 1)), (_ISO_DATE, (1, 2, 3))):
        match = pattern.fullmatch(text)
        if match:
            return date(*(int(match.group(i)) for i in order))
    match = _DIGITS_DATE.fullmatch(text)
    if match:
        return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
    tokens = [t for t in _WORDS.findall(text.lower()) if t not in _YEAR_MARKS]
    years = [t for t in tokens if t.isdigit() and len(t) == 4]
    days = [t for t in tokens if t.isdigit() and len(t) <= 2]
    months = [_MONTHS[t.rstrip(".")] for t in tokens if t.rstrip(".") in _MONTHS]
    if len(tokens) == 3 and len(years) == len(days) == len(months) == 1:
        return date(int(years[0]), months[0], int(days[0]))
    raise ValueError(raw)


def parse_local_instant(raw: str) -> datetime:
    """A date and a time of day as typed ("02.12.2026 14:05", "02.12.2026, 14:05", "2 Dec
    2026 14:05"; also "021220261405") in Almaty time, or an ISO value ("2026-12-02T14:05",
    naive means Almaty; with an offset, kept). ValueError when it is not one."""
    text = raw.strip()
    try:
        if len(text) <= 10:  # a date alone is not an instant: the time of day is asked for
            raise ValueError(raw)
        value = datetime.fromisoformat(text)
    except ValueError:
        digits = re.fullmatch(r"(\d{8})(\d{2})(\d{2})", text)
        if digits:
            day_part, clock = digits.group(1), (digits.group(2), digits.group(3), None)
        else:
            match = re.fullmatch(r"(.+?)[,\s]\s*" + _TIME.pattern, text)
            if not match:
                raise ValueError(raw) from None
            day_part, clock = match.group(1).strip(" ,"), match.groups()[1:]
        day = parse_local_date(day_part)
        hour, minute, second = (int(v) if v else 0 for v in clock)
        value = datetime(day.year, day.month, day.day, hour, minute, second)
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_ZONE)
    return value


def _datetime(raw: str, subtype: str) -> str:
    """What a date input holds as the model's value: a date as `YYYY-MM-DD`, a date and time as
    an ISO instant with Almaty's offset (`2026-12-02T14:05:00+05:00`); a time as typed."""
    if subtype == "date":
        return parse_local_date(raw).isoformat()
    if subtype == "time":
        match = _TIME.fullmatch(raw)
        if not match or match.group(3):
            raise ValueError(raw)
        return f"{int(match.group(1)):02d}:{match.group(2)}"
    return parse_local_instant(raw).isoformat()


def uploads(files: Any, key: str) -> list[dict[str, str]]:
    """The files a browser sent for `key` as the API's uploads. A file is read up to one byte
    past the limit: the engine then refuses it as too large without the rest being held."""
    out = []
    for storage in files.getlist(key) if files is not None else []:
        if not storage or not storage.filename:
            continue  # the empty part a file input sends when nothing was chosen
        content = storage.stream.read(MAX_FILE_BYTES + 1)
        out.append(
            {
                "name": storage.filename,
                "content_type": storage.mimetype or "",
                "content_base64": base64.b64encode(content).decode("ascii"),
            }
        )
    return out


def coerce(fields: list[FormField], form: Any, files: Any = None) -> dict[str, Any]:
    """What a browser sent (strings, and `files` of a multipart form) as the JSON values the
    engine's form rules check.

    Only the form's own editable fields are read. Nothing is judged here: text that is not a
    number or a date is passed on as typed, so the engine refuses it with the same message the
    API gives (engine/forms.py holds the rules)."""
    values: dict[str, Any] = {}
    for f in fields:
        if f.readonly:
            continue
        if f.type == "filepicker":
            sent = uploads(files, f.key)
            if sent:
                values[f.key] = sent
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
    if code == "before_period":  # a reception's date (workflows/organization.py)
        first = date.fromisoformat(str(p.get("first"))).strftime("%d.%m.%Y")
        return gettext("The reception must be held in its period: not before %(date)s.", date=first)
    if code == "unknown_body":  # the addressee of an act (workflows/organization.py)
        return gettext("No body has this code; choose the addressee from the directory.")
    return _file_problem_text(code, p) or problem.message


def size_text(size: int) -> str:
    """A file's size in words of the user's language (bytes, KB, MB)."""
    if size < 1024:
        return gettext("%(n)s bytes", n=size)
    if size < 1024 * 1024:
        return gettext("%(n)s KB", n=format_decimal(round(size / 1024, 1)))
    return gettext("%(n)s MB", n=format_decimal(round(size / (1024 * 1024), 1)))


def file_limits_text(multiple: bool = True) -> str:
    """The limits of a file field, said under it (engine/attachments.py)."""
    if not multiple:
        return gettext("One file, at most %(size)s.", size=size_text(MAX_FILE_BYTES))
    return gettext(
        "Up to %(count)s files, each at most %(size)s, together at most %(total)s.",
        count=MAX_FILES,
        size=size_text(MAX_FILE_BYTES),
        total=size_text(MAX_STEP_BYTES),
    )


def _file_problem_text(code: str, p: dict[str, Any]) -> str | None:
    """A broken rule of a file field (engine/attachments.py) in the user's language."""
    name = str(p.get("name") or "")
    if code == "file_required":
        return gettext("Attach at least one file.")
    if code == "not_files":
        return gettext("Send the files as a list of {name, content_type, content_base64} objects.")
    if code == "too_many_files":
        return gettext("At most %(n)s files may be attached here.", n=p.get("max"))
    if code == "file_too_large":
        return gettext(
            "“%(name)s” is larger than %(size)s, the most one file may have.",
            name=name,
            size=size_text(MAX_FILE_BYTES),
        )
    if code == "files_too_large":
        return gettext(
            "All files of one step together may have at most %(size)s.",
            size=size_text(MAX_STEP_BYTES),
        )
    if code == "bad_base64":
        return gettext("The content of “%(name)s” is not valid base64.", name=name)
    if code == "file_name_missing":
        return gettext("Every file needs a name.")
    if code == "file_name_invalid":
        return gettext("A file name must not hold control characters.")
    if code == "file_name_too_long":
        return gettext("A file name may have at most %(n)s characters.", n=p.get("max"))
    if code == "file_type_invalid":
        return gettext("The file type must be a media type such as application/pdf.")
    return None


_TYPED_FORMAT = {"not_a_date": "date", "not_an_instant": "datetime", "not_a_time": "time"}


def problem_texts(exc: ValidationFailed, fields: list[FormField] | None = None) -> dict[str, str]:
    """Field key -> its message in the user's language. Given the page's `fields`, a date that
    was not understood is explained in the format the page's input takes (DD.MM.YYYY), not the
    API's ISO format."""
    kinds = {f.key: f.date_kind for f in fields or []}
    texts = {}
    for key, problem in exc.fields.items():
        kind = kinds.get(key)
        if kind and _TYPED_FORMAT.get(problem.code) == kind:
            texts[key] = (
                gettext("This date could not be read.")
                + " "
                + FormField(key, "datetime", "", subtype=kind).input_hint
            )
        else:
            texts[key] = problem_text(problem)
    return texts


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
