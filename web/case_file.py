"""The case as a prosecutor reads a paper file: what each step wrote, in words.

A case's data holds everything the model and the engine keep (office codes, flags, counters,
loop logs). A reader sees only what some form of the procedure labels — the start form, the
task forms, and `shown.form.json` where a methodologist lists further variables with their labels
(bpmn/README.md) — with labels and values in the user's language: option labels instead of
values, да/нет instead of True/False, dates and instants in Almaty time with a four-digit year,
office and institution names instead of codes.

Values are grouped by the step that produced them. What a task submitted is read from its
`task_completed` audit event (what that completion wrote, even if a later step changed it), with
the case's data at that point (the history replayed) for values that did not change. The history
timeline is told in words: task titles, people's names and roles, events as sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import format_decimal, gettext, lazy_gettext

from engine.attachments import refs_in
from engine.repository import form_path

from .forms import FormField, fields_of, size_text
from .i18n import LOCAL_ZONE, local_date, local_time, translated
from .labels import event_label

#: the file a procedure's folder may hold to show further variables on the case page
SHOWN_FORM = "shown.form.json"

INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?$")
DATE = re.compile(r"^\d{4}-\d\d-\d\d$")

ROLE_LABELS = {
    "prosecutor": lazy_gettext("prosecutor"),
    "head": lazy_gettext("head of office"),
    "methodologist": lazy_gettext("methodologist"),
    "auditor": lazy_gettext("auditor"),
    "admin": lazy_gettext("administrator"),
}
#: actors that are no person: the worker's timers, publishing, the demo loader
SYSTEM_ACTORS = {
    "timer": lazy_gettext("System (timer)"),
    "system": lazy_gettext("System"),
    "worker": lazy_gettext("System"),
    "seed-demo": lazy_gettext("System (demo data)"),
    "anonymous": lazy_gettext("someone not signed in"),
}


@dataclass
class FileLink:
    """A file a step attached, as the file shows it (engine/attachments.py reference)."""

    attachment_id: str
    name: str
    size: str  # in words: "12,5 КБ"
    sha256: str


@dataclass
class Entry:
    """One labelled value of the file."""

    key: str
    label: str
    text: str
    long: bool = False  # a textarea: keep its line breaks
    files: list[FileLink] = field(default_factory=list)  # a file field: what was attached


@dataclass
class Section:
    """The values one step of the case produced, and who produced them when."""

    title: str
    entries: list[Entry]
    by: str = ""
    at: str = ""
    kind: str = "task"  # start | task | facts
    task_guid: str | None = None
    note: str = ""


@dataclass
class Person:
    name: str
    role: str = ""

    def __str__(self) -> str:
        return f"{self.name}, {self.role}" if self.role else self.name


def role_label(role: str | None) -> str:
    label = ROLE_LABELS.get(role or "")
    return str(label) if label is not None else (role or "")


class People:
    """Logins as names and roles, read once per page."""

    def __init__(self, users: Any, directory: Any, locale: str) -> None:
        self.users, self.directory, self.locale = users, directory, locale
        self._seen: dict[str, Person] = {}

    def person(self, login: str | None) -> Person:
        if not login:
            return Person("—")
        if login in self._seen:
            return self._seen[login]
        system = SYSTEM_ACTORS.get(login)
        if system is not None:
            found = Person(str(system))
        else:
            try:
                user = self.users.get(login)
            except Exception:  # noqa: BLE001 - an API client or a removed account: its login
                found = Person(login)
            else:
                roles = ", ".join(role_label(r) for r in user.roles)
                office = office_name(self.directory, user.office_code, self.locale)
                found = Person(user.name, ", ".join(p for p in (roles, office) if p))
        self._seen[login] = found
        return found

    def name(self, login: str | None) -> str:
        return self.person(login).name


def office_name(directory: Any, code: str | None, locale: str) -> str:
    """An office's name in the user's language (its Russian name, or the code if unknown)."""
    if not code:
        return ""
    found = directory.office(code)
    if found is None:
        return code
    return (getattr(found, "names", None) or {}).get(locale) or found.name


def institution_name(directory: Any, code: str, locale: str) -> str:
    found = directory.institution(code)
    if found is None:
        return code
    return (found.names or {}).get(locale) or found.name


class Vocabulary:
    """How one published version labels its data, in one language.

    The label of a key is the one of the form that lets someone enter it (the start form or a
    task form); a key that forms only show read-only takes the label of the earliest form in
    the procedure's order (the start event, then its tasks as the model lists them), so that a
    deadline is not named by the breach-control form that shows it after it passed.
    """

    def __init__(self, definition: Any, locale: str, directory: Any) -> None:
        self.definition, self.locale, self.directory = definition, locale, directory
        self.forms: dict[str, list[FormField]] = {}
        for path in _forms_in_order(definition):
            self.forms[path] = fields_of(definition.form(path), locale)
        self.fields: dict[str, FormField] = {}
        for editable in (True, False):
            for path, fields in self.forms.items():
                if path.endswith("/" + SHOWN_FORM) or path == SHOWN_FORM:
                    continue
                for f in fields:
                    if f.readonly != editable:
                        self.fields.setdefault(f.key, f)
        #: keys a methodologist marked as shown (read-only fields of shown.form.json)
        self.shown: list[FormField] = [
            f
            for path, fields in self.forms.items()
            if path.endswith("/" + SHOWN_FORM) or path == SHOWN_FORM
            for f in fields
        ]
        for f in self.shown:
            self.fields.setdefault(f.key, f)
        self.start_path = definition.start_form_path()
        self.titles = _element_titles(definition)

    def label(self, key: str) -> str:
        f = self.fields.get(key)
        return f.label if f is not None else key

    def labelled(self, key: str) -> bool:
        return key in self.fields

    def editable_fields(self, form: str | None) -> list[FormField]:
        path = self.definition._form_file(form) if form else None
        return [f for f in self.forms.get(path or "", []) if not f.readonly]

    def element_title(self, bpmn_id: str | None) -> str:
        """A BPMN element's name in the user's language (`title_<locale>` or `name_<locale>`
        properties of the element; the model's Russian name; the id as a last resort)."""
        if not bpmn_id:
            return ""
        name, props = self.titles.get(bpmn_id, ("", {}))
        return (
            props.get(f"title_{self.locale}") or props.get(f"name_{self.locale}") or name or bpmn_id
        )

    def text(self, key: str, value: Any) -> str:
        """A value as a reader expects it in the user's language."""
        return value_text(self.fields.get(key), key, value, self.locale, self.directory)


def value_text(
    f: FormField | None, key: str, value: Any, locale: str, directory: Any = None
) -> str:
    """One value in words: option labels, да/нет, local dates, names instead of codes."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if f is not None and f.options:
        for o in f.options:
            if str(o["value"]) == str(value):
                return str(o["label"])
    if isinstance(value, str) and directory is not None:
        if key == "institution" or key.endswith("_institution"):
            return institution_name(directory, value, locale)
        if key.endswith("office"):
            return office_name(directory, value, locale)
        if key == "addressee" and hasattr(directory, "body"):  # a body of the directory
            body = directory.body(value)
            if body is not None:
                return (body.names or {}).get(locale) or body.name
    if isinstance(value, datetime):
        return local_time(value)
    if isinstance(value, date):
        return local_date(value)
    if isinstance(value, str):
        if INSTANT.match(value):
            try:
                instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return value
            if instant.tzinfo is None:
                instant = instant.replace(tzinfo=LOCAL_ZONE)
            return local_time(instant)
        if DATE.match(value):
            try:
                return local_date(date.fromisoformat(value))
            except ValueError:
                return value
        return value
    if isinstance(value, int | float):
        return format_number(value)
    if isinstance(value, list):
        return ", ".join(value_text(None, key, v, locale, directory) for v in value)
    if isinstance(value, dict):
        return "; ".join(
            f"{k}: {value_text(None, k, v, locale, directory)}" for k, v in value.items()
        )
    return str(value)


def format_number(value: int | float) -> str:
    return str(format_decimal(value))


def _forms_in_order(definition: Any) -> list[str]:
    """Form paths of a version: the start form, the forms its tasks name in model order, then
    the rest (forms of called processes, shown.form.json)."""
    ordered: list[str] = []
    start = definition.start_form_path()
    specs = [definition.spec, *getattr(definition, "subprocess_specs", {}).values()]
    candidates = [start] + [form_path(s) for spec in specs for s in spec.task_specs.values()]
    for path in candidates:
        resolved = definition._form_file(path) if path else None
        if resolved and resolved not in ordered:
            ordered.append(resolved)
    for path in sorted(definition.files):
        if path.endswith(".form.json") and path not in ordered:
            ordered.append(path)
    return ordered


def _element_titles(definition: Any) -> dict[str, tuple[str, dict[str, str]]]:
    out: dict[str, tuple[str, dict[str, str]]] = {}
    specs = [definition.spec, *getattr(definition, "subprocess_specs", {}).values()]
    for spec in specs:
        for s in spec.task_specs.values():
            bpmn_id = getattr(s, "bpmn_id", None)
            if not bpmn_id or bpmn_id in out:
                continue
            props = (getattr(s, "extensions", None) or {}).get("properties") or {}
            out[bpmn_id] = (getattr(s, "bpmn_name", None) or "", dict(props))
    return out


def _completions(events: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, dict]]:
    """The start data, and per completed task what the case held right after it completed
    (the history replayed: start data, then every completion's written values)."""
    state: dict[str, Any] = {}
    start: dict[str, Any] = {}
    after: dict[str, dict[str, Any]] = {}
    for e in events:
        data = e.get("data_after") or {}
        if e["event_type"] == "instance_started":
            start = dict(data.get("data") or {})
            state.update(start)
        elif e["event_type"] == "task_completed" and e.get("task_guid"):
            state.update(data)
            after[e["task_guid"]] = {"written": dict(data), "state": dict(state)}
    return start, after


def build_file(
    vocab: Vocabulary,
    people: People,
    data: dict[str, Any],
    events: list[dict[str, Any]],
    tasks: list[Any],
    started_by: str | None,
    started_at: datetime | None,
) -> list[Section]:
    """The case's sections: the start form, each completed task's form, then the case facts
    only read-only fields label (deadlines the model computed, shown variables)."""
    start, completions = _completions(events)
    sections: list[Section] = []
    shown_keys: set[str] = set()
    start_fields = vocab.editable_fields(vocab.start_path)
    if start_fields:
        entries = [
            _entry(vocab, f, start.get(f.key, data.get(f.key)))
            for f in start_fields
            if f.key in start or f.key in data
        ]
        shown_keys.update(e.key for e in entries)
        sections.append(
            Section(
                gettext("Case opened"),
                entries,
                by=str(people.person(started_by)) if started_by else "",
                at=local_time(started_at),
                kind="start",
            )
        )
    done = [t for t in tasks if t.state == "completed"]
    for t in sorted(done, key=lambda t: t.completed_at or t.created_at):
        section = task_section(vocab, people, t, completions.get(t.task_guid), data)
        shown_keys.update(e.key for e in section.entries)
        sections.append(section)
    facts = [
        _entry(vocab, vocab.fields[key], data[key])
        for key in _fact_keys(vocab, data)
        if key not in shown_keys
    ]
    if facts:
        sections.append(Section(gettext("Set by the procedure"), facts, kind="facts"))
    return sections


def _fact_keys(vocab: Vocabulary, data: dict[str, Any]) -> list[str]:
    """Labelled keys of the case no step entered: computed deadlines, names the domain added,
    variables a methodologist marked as shown. The institution's name is the institution."""
    keys = [k for k in vocab.fields if k in data and k != "institution_name"]
    if "institution_name" in data and "institution" not in data:
        keys.append("institution_name")
    return keys


def _entry(vocab: Vocabulary, f: FormField, value: Any) -> Entry:
    if f.type == "filepicker":  # the step's files: name, size in words, SHA-256, download
        files = [
            FileLink(r["attachment_id"], str(r["name"]), size_text(int(r["size"])), r["sha256"])
            for r in refs_in(value)
        ]
        return Entry(f.key, f.label, ", ".join(x.name for x in files) or "—", files=files)
    return Entry(f.key, f.label, vocab.text(f.key, value), long=f.type == "textarea")


def task_section(
    vocab: Vocabulary,
    people: People,
    task: Any,
    completion: dict[str, Any] | None,
    data: dict[str, Any],
) -> Section:
    """What one completed task submitted, by whom and when."""
    written = (completion or {}).get("written", {})
    state = (completion or {}).get("state", data)
    entries = []
    for f in vocab.editable_fields(task.form):
        if f.key in written:
            value = written[f.key]
        elif f.key in state:
            value = state[f.key]
        else:
            continue  # left empty (an optional field): nothing was submitted
        entries.append(_entry(vocab, f, value))
    return Section(
        translated(task.title, task.titles),
        entries,
        by=str(people.person(task.completed_by)),
        at=local_time(task.completed_at),
        task_guid=task.task_guid,
    )


# -- the history in words ----------------------------------------------------------------------


@dataclass
class HistoryLine:
    seq: int
    at: str
    who: Person
    what: str
    element: str
    detail: str = ""
    event_type: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def history_lines(
    vocab: Vocabulary, people: People, events: list[dict[str, Any]], task_titles: dict[str, str]
) -> list[HistoryLine]:
    """The case's audit events as sentences: who (name and role), what, on which task."""
    lines = []
    for e in events:
        kind = e["event_type"]
        data = e.get("data_after") or {}
        what = event_label(kind)
        detail = ""
        if kind == "task_delegated" and data.get("assignee"):
            what = gettext("handed the task to %(who)s", who=people.name(data["assignee"]))
        elif kind == "task_created":
            parts = [role_label(data.get("role"))] if data.get("role") else []
            office = office_name(vocab.directory, data.get("office_code"), vocab.locale)
            if office:
                parts.append(office)
            if parts:
                detail = gettext("for: %(whom)s", whom=", ".join(parts))
            if data.get("due_at"):
                due = vocab.text("due_at", data["due_at"])
                detail = f"{detail}; " if detail else ""
                detail += gettext("deadline %(when)s", when=due)
        elif kind == "message_received" and data.get("message"):
            detail = vocab.element_title(str(data["message"]))
        elif kind in ("case_cancelled", "incident_retried"):
            from .audit_trace import incident_details  # the trace's words for the same events

            detail = "; ".join(incident_details(data))
        elif kind == "case_migrated":
            from .audit_trace import migration_details

            detail = "; ".join(migration_details(e.get("data_before"), data))
        guid = e.get("task_guid")
        element = task_titles.get(guid or "") or vocab.element_title(e.get("task_name"))
        lines.append(
            HistoryLine(
                seq=e["seq"],
                at=local_time(e["instant"], seconds=True),
                who=people.person(e["actor"]),
                what=what,
                element=element,
                detail=detail,
                event_type=kind,
            )
        )
    return lines
