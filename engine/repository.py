"""Which procedures and versions exist: load, validate and publish models; cache parsed specs.

A procedure is a folder under the BPMN directory holding its `.bpmn`, `.dmn` and `.form.json`
files. Publishing freezes the folder's content (plus any process it calls from another folder) as
version N, identified by the SHA-256 of its files; the same content is never published twice.
Parsed specs are cached per definition id, so no request ever parses XML.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from sqlalchemy import Connection, func, insert, select

from .db import Database
from .errors import ModelError, NotFound
from .forms import Form, parse_form
from .history import PendingEvent, append_system_events
from .models import Definition
from .safety.model_check import check_model_code
from .safety.xmlparse import parse_xml
from .schedules import calendars
from .schedules import check_model as check_schedules
from .schedules import register as register_schedules
from .serialization import StateSerializer

MODEL_SUFFIXES = (".bpmn", ".dmn", ".form.json")
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
definition_table = Definition.__table__


@dataclass(frozen=True)
class ParsedModel:
    """A validated procedure ready to publish: its files, hash and specs."""

    process_id: str
    title: str
    documentation: str
    files: dict[str, str]
    sha256: str
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]


@dataclass(frozen=True)
class LoadedDefinition:
    """A published version, with its specs restored once for the life of the process."""

    id: int
    process_id: str
    version: int
    sha256: str
    title: str
    files: dict[str, str]
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]
    #: form path -> its parsed rules (a version's forms never change: parsed once, on first use)
    _rules: dict[str | None, Form | None] = field(
        default_factory=dict, init=False, compare=False, repr=False, hash=False
    )

    def _form_file(self, name: str | None) -> str | None:
        if not name:
            return None
        if name in self.files:
            return name
        for path in sorted(self.files):
            if path.endswith("/" + name):
                return path
        return None

    def form(self, name: str | None) -> dict[str, Any] | None:
        """A form file by its path in the version (`folder/name`), or by its bare name."""
        path = self._form_file(name)
        return json.loads(self.files[path]) if path else None

    def form_rules(self, name: str | None) -> Form | None:
        """The parsed rules of a form of this version (None: there is no such form)."""
        try:
            return self._rules[name]
        except KeyError:
            pass
        path = self._form_file(name)
        rules = parse_form(json.loads(self.files[path]), path) if path else None
        self._rules[name] = rules
        return rules

    def start_form_path(self) -> str | None:
        """The form named by the process's start event, from the process's own folder (a
        process that also starts on a calendar: its other start event's form)."""
        for spec in self.spec.task_specs.values():
            if (
                isinstance(spec, StartEvent)
                and not isinstance(spec.event_definition, TimerEventDefinition)
                and form_path(spec)
            ):
                return form_path(spec)
        return None

    def start_form(self) -> dict[str, Any] | None:
        """The form of the process's start event, from the process's own folder."""
        return self.form(self.start_form_path())

    def start_rules(self) -> Form | None:
        """The rules every start payload of this version obeys (None: no start form)."""
        return self.form_rules(self.start_form_path())


def form_path(spec: Any) -> str | None:
    """The form a task spec names, qualified with the folder of the file that defines it
    (procedures are published with the folders of the processes they call, and two folders may
    hold forms of the same name)."""
    props = (getattr(spec, "extensions", None) or {}).get("properties") or {}
    name = props.get("formJsonSchemaFilename") or props.get("form")
    if not name:
        return None
    source = getattr(getattr(spec, "_wf_spec", None), "file", None) or ""
    folder = source.rpartition("/")[0]
    return f"{folder}/{name}" if folder else name


def files_sha256(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return digest.hexdigest()


def _executable_process_ids(tree: etree._ElementTree) -> list[str]:
    return [
        p.get("id")
        for p in tree.iter(f"{{{BPMN_NS}}}process")
        if p.get("isExecutable", "false") == "true"
    ]


def _called_elements(tree: etree._ElementTree) -> set[str]:
    return {c.get("calledElement") for c in tree.iter(f"{{{BPMN_NS}}}callActivity")} - {None}


class Repository:
    def __init__(
        self,
        db: Database,
        bpmn_dir: Path,
        serializer: StateSerializer,
        functions: tuple[str, ...] = (),
    ) -> None:
        self.db = db
        self.bpmn_dir = bpmn_dir
        self.serializer = serializer
        #: the names of the functions the engine gives scripts besides the deadline ones (a
        #: model calling one is published only where the engine has it)
        self.functions = functions
        #: office levels a timer start event's `start_for` may name (None: the engine has no
        #: offices; engine/schedules.py)
        self.start_levels: tuple[str, ...] | None = None
        self._cache: dict[int, LoadedDefinition] = {}
        self._latest: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- reading models from files ------------------------------------------------------------

    def _relative(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.bpmn_dir.resolve()))
        except ValueError:
            return path.name

    def _process_index(self) -> dict[str, Path]:
        """Every executable process id in the BPMN directory -> its file (for call activities)."""
        index: dict[str, Path] = {}
        if not self.bpmn_dir.exists():
            return index
        for path in sorted(self.bpmn_dir.rglob("*.bpmn")):
            try:
                tree = parse_xml(path.read_bytes(), self._relative(path))
            except ModelError:
                continue
            for pid in _executable_process_ids(tree):
                index.setdefault(pid, path)
        return index

    def parse_file(self, path: Path) -> ParsedModel:
        """Validate one procedure (the file, its folder's DMN and forms, called processes)."""
        path = Path(path)
        if not path.exists():
            raise ModelError("file not found", filename=str(path))
        main_name = self._relative(path)
        main_tree = parse_xml(path.read_bytes(), main_name)
        process_ids = _executable_process_ids(main_tree)
        if not process_ids:
            raise ModelError('no executable process (isExecutable="true")', filename=main_name)
        process_id = process_ids[0]

        files: dict[str, str] = {}
        trees: dict[str, etree._ElementTree] = {}
        loaded_folders: set[Path] = set()

        def load_folder(folder: Path) -> None:
            """A procedure's files travel together: its BPMN, its DMN and its forms."""
            loaded_folders.add(folder.resolve())
            for sibling in sorted(folder.iterdir()):
                if sibling.is_file() and sibling.name.endswith(MODEL_SUFFIXES):
                    name = self._relative(sibling)
                    text = sibling.read_text(encoding="utf-8")
                    files[name] = text
                    if sibling.name.endswith(".form.json"):
                        _check_form(text, name)
                    else:
                        trees[name] = parse_xml(text.encode(), name)

        load_folder(path.parent)
        index: dict[str, Path] | None = None
        while True:
            bpmn_trees = [t for n, t in trees.items() if n.endswith(".bpmn")]
            defined = {pid for t in bpmn_trees for pid in _executable_process_ids(t)}
            wanted = {c for t in bpmn_trees for c in _called_elements(t)} - defined
            if not wanted:
                break
            index = index if index is not None else self._process_index()
            called = sorted(wanted)[0]
            dep = index.get(called)
            if dep is None or dep.parent.resolve() in loaded_folders:
                raise ModelError(
                    f"called process '{called}' is not defined in any model", filename=main_name
                )
            load_folder(dep.parent)
        _check_unique_decisions(trees)

        for name, tree in trees.items():
            _check_supported_elements(tree, name)
            _check_flow_references(tree, name)
            check_model_code(tree, name, self.functions)
            if name.endswith(".bpmn"):
                check_schedules(tree, name, process_id, self.start_levels)

        parser = SpiffBpmnParser(validator=VALIDATOR)
        try:
            for name, tree in trees.items():
                if name.endswith(".dmn"):
                    parser.add_dmn_xml(tree.getroot(), filename=name)
                else:
                    parser.add_bpmn_xml(tree, filename=name)
            spec = parser.get_spec(process_id)
            subs = parser.get_subprocess_specs(process_id)
        except ValidationException as exc:
            raise _model_error_from(exc, trees, main_name) from exc
        except SpiffWorkflowException as exc:
            raise ModelError(str(exc), filename=main_name) from exc

        return ParsedModel(
            process_id=process_id,
            title=spec.description or process_id,
            documentation=_process_documentation(main_tree, process_id),
            files=files,
            sha256=files_sha256(files),
            spec=spec,
            subprocess_specs=subs,
        )

    def procedure_files(self) -> list[Path]:
        """The main BPMN file of each procedure folder (the one named like its folder, or first)."""
        mains = []
        for folder in sorted(p for p in self.bpmn_dir.iterdir() if p.is_dir()):
            candidates = sorted(folder.glob("*.bpmn"))
            if not candidates:
                continue
            named = [c for c in candidates if c.stem == folder.name]
            mains.append(named[0] if named else candidates[0])
        return mains

    # -- publishing ---------------------------------------------------------------------------

    def publish(
        self, path: Path, *, actor: str = "system", now: datetime
    ) -> tuple[LoadedDefinition, bool]:
        """Publish the procedure in `path`; returns (definition, created). Same content: no-op."""
        model = self.parse_file(path)
        with self.db.write() as conn:
            existing = conn.execute(
                select(definition_table.c.id).where(
                    definition_table.c.process_id == model.process_id,
                    definition_table.c.sha256 == model.sha256,
                )
            ).scalar()
            if existing is not None:
                return self.get(existing), False
            version = (
                conn.execute(
                    select(func.max(definition_table.c.version)).where(
                        definition_table.c.process_id == model.process_id
                    )
                ).scalar()
                or 0
            ) + 1
            spec_json = self.serializer.dumps_specs(model.spec, model.subprocess_specs)
            new_id = conn.execute(
                insert(definition_table).values(
                    process_id=model.process_id,
                    version=version,
                    sha256=model.sha256,
                    title=model.title,
                    documentation=model.documentation,
                    files=model.files,
                    spec_json=spec_json,
                    published_at=now,
                    published_by=actor,
                )
            ).inserted_primary_key[0]
            # a calendar counts from the version that last changed it (engine/schedules.py)
            previous = self._previous_spec(conn, model.process_id, version - 1)
            register_schedules(
                conn,
                model.process_id,
                calendars(model.spec),
                calendars(previous) if previous is not None else {},
                now,
            )
            append_system_events(
                conn,
                now,
                [
                    PendingEvent(
                        "definition_published",
                        actor,
                        data_after={
                            "process_id": model.process_id,
                            "version": version,
                            "sha256": model.sha256,
                            "files": sorted(model.files),
                            # the parsed spec the cases run, sealed in the chain with the files
                            "spec_sha256": hashlib.sha256(spec_json.encode()).hexdigest(),
                        },
                    )
                ],
            )
        loaded = LoadedDefinition(
            id=new_id,
            process_id=model.process_id,
            version=version,
            sha256=model.sha256,
            title=model.title,
            files=model.files,
            spec=model.spec,
            subprocess_specs=model.subprocess_specs,
        )
        with self._lock:
            self._cache[new_id] = loaded
            self._latest.pop(model.process_id, None)
        return loaded, True

    def _previous_spec(self, conn: Connection, process_id: str, version: int) -> Any:
        """The main spec of version `version` of the process (None: there is none)."""
        row = conn.execute(
            select(definition_table.c.id, definition_table.c.spec_json).where(
                definition_table.c.process_id == process_id,
                definition_table.c.version == version,
            )
        ).first()
        if row is None:
            return None
        cached = self._cache.get(row.id)
        return cached.spec if cached is not None else self.serializer.loads_specs(row.spec_json)[0]

    def publish_all(self, *, actor: str, now: datetime) -> list[tuple[LoadedDefinition, bool]]:
        return [self.publish(p, actor=actor, now=now) for p in self.procedure_files()]

    # -- reading published versions -----------------------------------------------------------

    def get(self, definition_id: int) -> LoadedDefinition:
        cached = self._cache.get(definition_id)
        if cached is not None:
            return cached
        with self.db.read() as conn:
            row = (
                conn.execute(select(definition_table).where(definition_table.c.id == definition_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"definition {definition_id} does not exist")
        spec, subs = self.serializer.loads_specs(row["spec_json"])
        loaded = LoadedDefinition(
            id=row["id"],
            process_id=row["process_id"],
            version=row["version"],
            sha256=row["sha256"],
            title=row["title"],
            files=row["files"],
            spec=spec,
            subprocess_specs=subs,
        )
        with self._lock:
            self._cache[definition_id] = loaded
        return loaded

    def latest_id(self, process_id: str, conn: Connection | None = None) -> int:
        cached = self._latest.get(process_id)
        if cached is not None:
            return cached
        stmt = (
            select(definition_table.c.id)
            .where(definition_table.c.process_id == process_id)
            .order_by(definition_table.c.version.desc())
            .limit(1)
        )
        if conn is not None:
            found = conn.execute(stmt).scalar()
        else:
            with self.db.read() as c:
                found = c.execute(stmt).scalar()
        if found is None:
            raise NotFound(f"procedure '{process_id}' has no published version")
        self._latest[process_id] = found
        return found

    def forget_latest(self) -> None:
        """Drop the latest-version cache (another process may have published)."""
        self._latest.clear()

    def list(self) -> list[dict[str, Any]]:
        cols = definition_table.c
        with self.db.read() as conn:
            rows = (
                conn.execute(
                    select(
                        cols.id,
                        cols.process_id,
                        cols.version,
                        cols.sha256,
                        cols.title,
                        cols.published_at,
                        cols.published_by,
                    ).order_by(cols.process_id, cols.version)
                )
                .mappings()
                .all()
            )
        return [dict(r) for r in rows]


def _check_form(text: str, name: str) -> None:
    try:
        form = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(
            f"form is not valid JSON: {exc.msg}", filename=name, line=exc.lineno
        ) from exc
    parse_form(form, name)  # the engine enforces it: refuse at publishing what it cannot


def _check_unique_decisions(trees: dict[str, etree._ElementTree]) -> None:
    """Two decision tables with one id would silently replace each other in the parser."""
    seen: dict[str, str] = {}
    for name, tree in trees.items():
        if not name.endswith(".dmn"):
            continue
        for element in tree.getroot().iter():
            if isinstance(element.tag, str) and element.tag.endswith("}decision"):
                decision = element.get("id")
                if decision in seen:
                    raise ModelError(
                        f"decision '{decision}' is also defined in {seen[decision]}",
                        filename=name,
                        line=element.sourceline,
                        element_id=decision,
                    )
                seen[decision] = name


UNSUPPORTED = {
    "eventBasedGateway": "event-based gateways hang silently in SpiffWorkflow 3.2 (their events "
    "are merged into one the engine cannot schedule); use a receive task or catch event with "
    "a boundary timer",
}


def _check_supported_elements(tree: etree._ElementTree, name: str) -> None:
    for tag, reason in UNSUPPORTED.items():
        for element in tree.iter(f"{{{BPMN_NS}}}{tag}"):
            raise ModelError(
                reason, filename=name, line=element.sourceline, element_id=element.get("id")
            )


def _check_flow_references(tree: etree._ElementTree, name: str) -> None:
    """A sequence flow to an element that does not exist, said plainly (the library's message
    for it talks about duplicate task specs)."""
    ids = {e.get("id") for e in tree.iter() if e.get("id")}
    for flow in tree.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        for attr in ("sourceRef", "targetRef"):
            ref = flow.get(attr)
            if ref not in ids:
                raise ModelError(
                    f"sequence flow {attr} '{ref}' names no element of the model",
                    filename=name,
                    line=flow.sourceline,
                    element_id=flow.get("id"),
                )


def _process_documentation(tree: etree._ElementTree, process_id: str) -> str:
    for proc in tree.iter(f"{{{BPMN_NS}}}process"):
        if proc.get("id") == process_id:
            doc = proc.find(f"{{{BPMN_NS}}}documentation")
            return (doc.text or "").strip() if doc is not None else ""
    return ""


def _model_error_from(
    exc: ValidationException, trees: dict[str, etree._ElementTree], default_file: str
) -> ModelError:
    filename = exc.file_name or default_file
    element_id = getattr(exc, "id", None) or None
    line = exc.line_number if isinstance(exc.line_number, int) else None
    tree = trees.get(filename)
    if line is None and element_id and tree is not None:
        found = tree.xpath("//*[@id=$eid]", eid=element_id)
        if found:
            line = found[0].sourceline
    message = str(exc).split(". Error is")[0]
    return ModelError(message, filename=filename, line=line, element_id=element_id)


SpecLoader = Callable[[int], LoadedDefinition]
