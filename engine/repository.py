"""Which procedures and versions exist: load, validate and publish models; cache parsed specs.

A procedure is a folder under the BPMN directory holding its `.bpmn`, `.dmn` and `.form.json`
files. Publishing freezes the folder's content (plus any process it calls from another folder) as
version N, identified by the SHA-256 of its files. Files are keyed `<process id of the folder's
main process>/<filename>` whichever folder (or draft) they came from, so the same content has
the same hash anywhere. Content is compared with the current version only: publishing what is
already current changes nothing, publishing an older version's content makes it current again
under a new number (the way back).

Parsed specs are cached per definition id (a version never changes), so no request ever parses
XML; which version is the latest is read from the database on every start, so a version
published by another process (the CLI, another server or worker) counts at once.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
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
from sqlalchemy import Connection, RowMapping, bindparam, func, insert, select
from sqlalchemy import exc as sa_exc
from sqlalchemy import text as sql_text

from .db import Database
from .errors import ConflictError, InvalidOperation, ModelError, NotFound
from .foreign import check_dialect, clean_parser_error, element_name, normalize_timer_literals
from .forms import Form, parse_form
from .history import PendingEvent, append_system_events
from .lanes import lane_problems
from .models import Definition, ProcessInstance
from .safety.model_check import check_model_code
from .safety.xmlparse import MAX_MODEL_BYTES, parse_xml
from .schedules import calendars
from .schedules import check_model as check_schedules
from .schedules import register as register_schedules
from .serialization import StateSerializer

MODEL_SUFFIXES = (".bpmn", ".dmn", ".form.json")
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
definition_table = Definition.__table__
instance_table = ProcessInstance.__table__
#: a file set is a person's upload or draft: bounded before anything is parsed
MAX_FILES = 200
MAX_KEY_LENGTH = 300
MAX_NOTE = 4000
MAX_LEGAL_BASIS = 2000
#: a case in these states no longer runs on its version
FINISHED = ("completed", "cancelled")
#: the current version's id: one probe of the (process_id, version) unique index, built once
#: (asked on every start, so not even the statement is rebuilt)
LATEST_ID = (
    select(definition_table.c.id)
    .where(definition_table.c.process_id == bindparam("process_id"))
    .order_by(definition_table.c.version.desc())
    .limit(1)
)


@dataclass(frozen=True)
class ParsedModel:
    """A validated procedure ready to publish: its files (canonical keys), hash and specs."""

    process_id: str
    title: str
    documentation: str
    files: dict[str, str]
    sha256: str
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]
    #: key of the main BPMN in `files`
    main_file: str = ""


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
    #: key of the main BPMN in `files` (`<process id>/<file>.bpmn`)
    main_file: str = ""
    #: what changed and why, as the methodologist wrote it when publishing
    note: str = ""
    #: the legal act (¶) the change follows, if any
    legal_basis: str = ""
    published_at: datetime | None = None
    published_by: str = ""

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


@dataclass(frozen=True)
class _Facts:
    """What the procedures pages ask of a version, read once from its files (a version never
    changes, so the facts are cached per definition id for the life of the process)."""

    main_file: str
    #: SHA-256 of the files of the main BPMN's folder (the procedure without what it calls)
    folder_sha256: str
    #: process ids its main folder's BPMN call (and does not define itself)
    calls: tuple[str, ...]
    keys: frozenset[str]
    #: folder -> SHA-256 of its files: a called procedure's copy is recognised by its folder
    folders: dict[str, str]


class _Problems:
    """Problems met while examining a file set. Parsing raises the first one; checking (the
    editor's *Check*) keeps going, so one pass shows a problem of every failing file."""

    def __init__(self, collect: bool, trees: dict[str, etree._ElementTree]) -> None:
        self.collect = collect
        self.trees = trees
        self.found: list[ModelError] = []

    def add(self, exc: ModelError) -> None:
        named = _named(exc, self.trees)
        if not self.collect:
            if named is exc:
                raise exc
            raise named from exc
        if all(str(named) != str(seen) for seen in self.found):
            self.found.append(named)

    def attempt(self, *checks: tuple[Callable[..., Any], tuple[Any, ...]]) -> bool:
        """Run the checks in order, stopping at the first that refuses (a later check would
        only repeat it in other words, e.g. a FEEL condition is also not Python)."""
        for check, args in checks:
            try:
                check(*args)
            except ModelError as exc:
                self.add(exc)
                return False
        return True


def _named(exc: ModelError, trees: dict[str, etree._ElementTree]) -> ModelError:
    """The error with the element's drawn name (a methodologist knows "Проверка", not
    "Activity_1x2"), when it names an element and the checker did not say it."""
    if exc.element_name or not exc.element_id:
        return exc
    name = element_name(trees.get(exc.filename or ""), exc.element_id)
    if not name:
        return exc
    return ModelError(
        exc.message,
        filename=exc.filename,
        line=exc.line,
        element_id=exc.element_id,
        element_name=name,
    )


def problem_dict(exc: ModelError) -> dict[str, Any]:
    """A problem as the doors show it (JSON of `check_files`, the editor's markers)."""
    return {
        "message": exc.message,
        "file": exc.filename,
        "line": exc.line,
        "element_id": exc.element_id,
        "element_name": exc.element_name,
    }


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
        #: the lanes the organization resolves (name -> meaning; None: any), asked at every
        #: validation (engine/lanes.py); the engine plugs in its organization's `known_lanes`
        self.known_lanes: Callable[[], Mapping[str, str] | None] = lambda: None
        #: definition id -> the loaded version; safe to keep for ever, a version never changes.
        #: Which version is the latest is NOT cached: another process may publish at any time.
        self._cache: dict[int, LoadedDefinition] = {}
        self._facts: dict[int, _Facts] = {}
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

    def read_folder(self, path: Path) -> tuple[dict[str, str], str]:
        """The file set of the procedure whose main BPMN is `path`: its folder's BPMN, DMN and
        forms, keyed by their path under the BPMN directory (a folder elsewhere: bare names,
        as errors name them), and the main key. parse_files makes the keys canonical."""
        path = Path(path)
        if not path.is_file():
            raise ModelError("file not found", filename=str(path))
        folder = path.parent
        prefix = self._relative(path).rpartition("/")[0]

        def key(file: Path) -> str:
            return f"{prefix}/{file.name}" if prefix else file.name

        files: dict[str, str] = {}
        for sibling in sorted(folder.iterdir()):
            if sibling.is_file() and sibling.name.endswith(MODEL_SUFFIXES):
                files[key(sibling)] = _read_text(sibling, key(sibling))
        main = key(path)
        if main not in files:  # a main file with another suffix: parse_files says what is wrong
            files[main] = _read_text(path, main)
        return files, main

    def parse_file(self, path: Path) -> ParsedModel:
        """Validate one procedure from disk (the file, its folder's DMN and forms, called
        processes): the same checks as a draft's file set."""
        files, main = self.read_folder(path)
        return self.parse_files(files, main)

    def parse_files(self, files: dict[str, str], main: str) -> ParsedModel:
        """Validate a file set held in memory (a draft, an upload, a folder read from disk);
        `main` is the key of the main BPMN. Raises the first `ModelError`, naming file, line,
        element id and name. Called processes missing from `files` are taken from their latest
        published version, else from the BPMN directory."""
        model, _problems = self._examine(files, main, collect=False)
        assert model is not None  # strict mode raised otherwise
        return model

    def check_files(self, files: dict[str, str], main: str) -> list[dict[str, Any]]:
        """Every problem of a file set that one pass can find (at least one per failing file),
        each {"message", "file", "line", "element_id", "element_name"}; [] = it checks."""
        try:
            _model, problems = self._examine(files, main, collect=True)
        except ModelError as exc:  # the set itself is unusable (no files, sizes, names)
            problems = [exc]
        return [problem_dict(p) for p in problems]

    def _examine(
        self, given: dict[str, str], main: str, *, collect: bool
    ) -> tuple[ParsedModel | None, list[ModelError]]:
        _check_file_set(given, main)
        trees: dict[str, etree._ElementTree] = {}
        problems = _Problems(collect, trees)

        # the main process names the procedure: without it nothing else can be keyed
        raw: dict[str, etree._ElementTree] = {}
        failed: dict[str, ModelError] = {}
        for key, text in given.items():
            if not key.endswith(".form.json"):
                try:
                    raw[key] = parse_xml(text.encode(), key)
                except ModelError as exc:
                    failed[key] = exc
        if main in failed:
            problems.add(failed[main])
            return None, problems.found
        process_ids = _executable_process_ids(raw[main])
        if not process_ids:
            problems.add(
                ModelError(
                    'no executable process (isExecutable="true"): mark the procedure\'s '
                    "process as executable",
                    filename=main,
                )
            )
            return None, problems.found
        process_id = process_ids[0]

        mapping = _canonical_keys(given, main, process_id, raw)
        files: dict[str, str] = {}
        for key in sorted(given):
            canonical = mapping[key]
            if canonical in files and files[canonical] != given[key]:
                raise ModelError(
                    f"two different files would both be stored as '{canonical}' (the files of "
                    f"one procedure's folder are keyed by its process id): rename one",
                    filename=key,
                )
            files[canonical] = given[key]
        main = mapping[main]
        for key in sorted(given):
            canonical = mapping[key]
            if key in failed:
                exc = failed[key]
                problems.add(
                    ModelError(
                        exc.message, filename=canonical, line=exc.line, element_id=exc.element_id
                    )
                )
            elif key in raw:
                trees[canonical] = raw[key]
            else:
                problems.attempt((_check_form, (given[key], canonical)))

        self._complete_calls(files, trees, problems)
        problems.attempt((_check_unique_decisions, (trees,)))

        runnable: dict[str, etree._ElementTree] = {}
        lanes = self.known_lanes()
        for name, tree in sorted(trees.items()):
            problems.attempt(
                (_check_supported_elements, (tree, name)),
                (_check_flow_references, (tree, name)),
                (_check_gateway_conditions, (tree, name)),
            )
            if name.endswith(".bpmn"):
                try:
                    runnable[name] = normalize_timer_literals(tree)
                except ModelError as exc:
                    problems.add(exc)
                    continue
                # a calendar first, as written: the scheduler says most precisely what its
                # cycle lacks (e.g. the start's offset, which it does not assume)
                problems.attempt(
                    (check_schedules, (tree, name, process_id, self.start_levels)),
                    (check_dialect, (tree, name)),
                    (check_model_code, (runnable[name], name, self.functions)),
                )
                for lane_problem in lane_problems(tree, name, lanes):  # each on its element
                    problems.add(lane_problem)
            else:
                problems.attempt(
                    (check_dialect, (tree, name)),
                    (check_model_code, (tree, name, self.functions)),
                )
        if problems.found:
            return None, problems.found

        parser = SpiffBpmnParser(validator=VALIDATOR)
        try:
            for name, tree in trees.items():
                if name.endswith(".dmn"):
                    parser.add_dmn_xml(tree.getroot(), filename=name)
                else:
                    parser.add_bpmn_xml(runnable[name], filename=name)
            spec = parser.get_spec(process_id)
            subs = parser.get_subprocess_specs(process_id)
        except ValidationException as exc:
            problems.add(_parser_error(exc, trees, main))
            return None, problems.found
        except SpiffWorkflowException as exc:
            problems.add(clean_parser_error(str(exc), main, None, None))
            return None, problems.found
        except (KeyError, AttributeError, TypeError, ValueError, IndexError) as exc:
            # the library meeting a model it did not expect: said in words, not as a traceback
            problems.add(
                clean_parser_error(
                    f"the engine cannot read this model ({type(exc).__name__}: {exc})",
                    main,
                    None,
                    None,
                )
            )
            return None, problems.found

        model = ParsedModel(
            process_id=process_id,
            title=spec.description or process_id,
            documentation=_process_documentation(trees[main], process_id),
            files=files,
            sha256=files_sha256(files),
            spec=spec,
            subprocess_specs=subs,
            main_file=main,
        )
        return model, []

    def _complete_calls(
        self, files: dict[str, str], trees: dict[str, etree._ElementTree], problems: _Problems
    ) -> None:
        """Add the processes the set calls and does not define: each from its latest published
        version (what runs today), else from the BPMN directory; refuse a missing one on each
        call activity naming it, saying where it was looked for."""
        index: dict[str, Path] | None = None
        tried: set[str] = set()
        while True:
            bpmn = {n: t for n, t in sorted(trees.items()) if n.endswith(".bpmn")}
            defined = {pid for t in bpmn.values() for pid in _executable_process_ids(t)}
            wanted = sorted({c for t in bpmn.values() for c in _called_elements(t)} - defined)
            wanted = [c for c in wanted if c not in tried]
            if not wanted:
                return
            called = wanted[0]
            tried.add(called)
            found = self._published_folder(called)
            if found is None:
                index = index if index is not None else self._process_index()
                path = index.get(called)
                found = _disk_folder(self, path) if path is not None else {}
            for key, text in found.items():
                if key in files:
                    continue
                files[key] = text
                if key.endswith(".form.json"):
                    problems.attempt((_check_form, (text, key)))
                    continue
                try:
                    trees[key] = parse_xml(text.encode(), key)
                except ModelError as exc:
                    problems.add(exc)
            now_defined = {
                pid
                for n, t in trees.items()
                if n.endswith(".bpmn")
                for pid in _executable_process_ids(t)
            }
            if called in now_defined:
                continue
            for name, tree in bpmn.items():
                for call in tree.iter(f"{{{BPMN_NS}}}callActivity"):
                    if call.get("calledElement") == called:
                        problems.add(
                            ModelError(
                                f"calls process '{called}', which is found nowhere: it is not "
                                "in this model's files, has no published version, and no file "
                                f"in the procedures folder ({self.bpmn_dir.name}/) defines an "
                                f"executable process '{called}'; publish '{called}' first, add "
                                "its file to the model, or correct the called process id",
                                filename=name,
                                line=call.sourceline,
                                element_id=call.get("id"),
                            )
                        )

    def _published_folder(self, process_id: str) -> dict[str, str] | None:
        """The files of the main folder of `process_id`'s latest published version, keyed
        canonically (None: never published)."""
        cols = definition_table.c
        with self.db.read() as conn:
            row = conn.execute(
                select(cols.id, cols.files)
                .where(cols.process_id == process_id)
                .order_by(cols.version.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        files = row.files or {}
        folder = self._version_facts(row.id, process_id, files).main_file.rpartition("/")[0]
        return {
            f"{process_id}/{key.rpartition('/')[2]}" if not folder else key: text
            for key, text in files.items()
            if key.rpartition("/")[0] == folder
        }

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

    def publish_files(
        self,
        files: dict[str, str],
        main: str,
        *,
        actor: str,
        note: str,
        legal_basis: str = "",
        now: datetime,
        origin: str = "",
    ) -> tuple[LoadedDefinition, bool]:
        """Publish a file set (a draft) as the procedure's new current version, with the change
        note a person owes the readers of the history; returns (definition, created). Content
        equal to the CURRENT version: nothing new. Any other content, also an older version's
        (the way back): a new version number. Who may publish is asked by the door
        (workflows/rights.py `may_publish`) before calling this; `origin` names the door and
        the person behind it when the door knows more than the login (e.g. `cli:<OS user>`)."""
        note = _bounded_text(note, "a change note", MAX_NOTE, required=True)
        legal_basis = _bounded_text(legal_basis, "the legal basis", MAX_LEGAL_BASIS)
        if not isinstance(actor, str) or not actor.strip():
            raise InvalidOperation("say who publishes the version")
        return self._publish(
            self.parse_files(files, main),
            actor=actor,
            note=note,
            legal_basis=legal_basis,
            now=now,
            origin=origin,
        )

    def publish(
        self,
        path: Path,
        *,
        actor: str = "system",
        note: str = "",
        legal_basis: str = "",
        now: datetime,
        origin: str = "",
    ) -> tuple[LoadedDefinition, bool]:
        """Publish the procedure whose main BPMN is `path` (same semantics as publish_files).
        Without a note: the installation's bootstrap and the tests; the CLI asks for one."""
        return self._publish(
            self.parse_file(path),
            actor=actor,
            note=_bounded_text(note, "a change note", MAX_NOTE),
            legal_basis=_bounded_text(legal_basis, "the legal basis", MAX_LEGAL_BASIS),
            now=now,
            origin=origin,
        )

    def _publish(
        self,
        model: ParsedModel,
        *,
        actor: str,
        note: str,
        legal_basis: str,
        now: datetime,
        origin: str = "",
    ) -> tuple[LoadedDefinition, bool]:
        cols = definition_table.c
        try:
            with self.db.write() as conn:
                if conn.dialect.name == "postgresql":
                    # publishers of one procedure take turns, so the second of two at the same
                    # moment compares with the first one's version (SQLite has one writer)
                    conn.execute(
                        sql_text("SELECT pg_advisory_xact_lock(hashtext(:p))"),
                        {"p": f"publish:{model.process_id}"},
                    )
                current = conn.execute(
                    select(cols.id, cols.version, cols.sha256)
                    .where(cols.process_id == model.process_id)
                    .order_by(cols.version.desc())
                    .limit(1)
                ).first()
                if current is not None and current.sha256 == model.sha256:
                    unchanged = current.id
                else:
                    unchanged = None
                    version = (current.version if current is not None else 0) + 1
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
                            note=note,
                            legal_basis=legal_basis,
                        )
                    ).inserted_primary_key[0]
                    # a calendar counts from the version that last changed it (schedules.py)
                    previous = self._spec_of(conn, current.id) if current is not None else None
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
                                    # the parsed spec the cases run, sealed with the files
                                    "spec_sha256": hashlib.sha256(spec_json.encode()).hexdigest(),
                                    "note": note,
                                    "legal_basis": legal_basis,
                                    "previous_version": (
                                        current.version if current is not None else None
                                    ),
                                    **({"origin": origin[:200]} if origin else {}),
                                },
                            )
                        ],
                    )
        except sa_exc.IntegrityError as exc:  # another process took the number first
            raise ConflictError(
                f"another version of {model.process_id} was published at the same moment; "
                "nothing was published: look at its versions and publish again"
            ) from exc
        if unchanged is not None:
            return self.get(unchanged), False
        loaded = LoadedDefinition(
            id=new_id,
            process_id=model.process_id,
            version=version,
            sha256=model.sha256,
            title=model.title,
            files=model.files,
            spec=model.spec,
            subprocess_specs=model.subprocess_specs,
            main_file=model.main_file,
            note=note,
            legal_basis=legal_basis,
            published_at=now,
            published_by=actor,
        )
        with self._lock:
            self._cache[new_id] = loaded
        return loaded, True

    def _spec_of(self, conn: Connection, definition_id: int) -> Any:
        """The main spec of a published version (from the cache when it is loaded)."""
        cached = self._cache.get(definition_id)
        if cached is not None:
            return cached.spec
        spec_json = conn.execute(
            select(definition_table.c.spec_json).where(definition_table.c.id == definition_id)
        ).scalar_one()
        return self.serializer.loads_specs(spec_json)[0]

    def publish_all(
        self, *, actor: str = "system", now: datetime
    ) -> list[tuple[LoadedDefinition, bool]]:
        """The installation's bootstrap (`seed-demo`): every procedure folder of the BPMN
        directory, published by the system (no person answers for it, so no change note);
        people publish one procedure with a note, through the CLI or a draft."""
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
        files = row["files"]
        loaded = LoadedDefinition(
            id=row["id"],
            process_id=row["process_id"],
            version=row["version"],
            sha256=row["sha256"],
            title=row["title"],
            files=files,
            spec=spec,
            subprocess_specs=subs,
            main_file=self._version_facts(row["id"], row["process_id"], files).main_file,
            note=row["note"] or "",
            legal_basis=row["legal_basis"] or "",
            published_at=row["published_at"],
            published_by=row["published_by"],
        )
        with self._lock:
            self._cache[definition_id] = loaded
        return loaded

    def get_version(self, process_id: str, version: int) -> LoadedDefinition:
        """Version `version` of a procedure (NotFound: no such version)."""
        cols = definition_table.c
        with self.db.read() as conn:
            found = conn.execute(
                select(cols.id).where(cols.process_id == process_id, cols.version == version)
            ).scalar()
        if found is None:
            raise NotFound(f"procedure '{process_id}' has no version {version}")
        return self.get(found)

    def latest_id(self, process_id: str, conn: Connection | None = None) -> int:
        """The id of the procedure's current version, read from the database every time (one
        probe of the (process_id, version) unique index): a version published by another
        process — the CLI while the server runs, another worker — counts at once."""
        if conn is not None:
            found = conn.execute(LATEST_ID, {"process_id": process_id}).scalar()
        else:
            with self.db.read() as c:
                found = c.execute(LATEST_ID, {"process_id": process_id}).scalar()
        if found is None:
            raise NotFound(f"procedure '{process_id}' has no published version")
        return found

    def list(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            return [dict(r) for r in _version_rows(conn)]

    # -- the procedures area: versions, who calls whom -----------------------------------------

    def versions(self, process_id: str) -> list[dict[str, Any]]:
        """Every version of a procedure, newest first, with the cases still running on it
        (NotFound: the procedure was never published)."""
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
                        cols.note,
                        cols.legal_basis,
                    )
                    .where(cols.process_id == process_id)
                    .order_by(cols.version.desc())
                )
                .mappings()
                .all()
            )
            running = self._running(conn, process_id)
        if not rows:
            raise NotFound(f"procedure '{process_id}' has no published version")
        return [
            {
                **dict(r),
                "note": r["note"] or "",
                "legal_basis": r["legal_basis"] or "",
                "running_cases": running.get(r["id"], 0),
            }
            for r in rows
        ]

    @staticmethod
    def _running(conn: Connection, process_id: str | None = None) -> dict[int, int]:
        """definition id -> cases neither completed nor cancelled on it."""
        i = instance_table.c
        stmt = select(i.definition_id, func.count()).where(i.status.not_in(FINISHED))
        if process_id is not None:
            stmt = stmt.where(i.process_id == process_id)
        return {d: n for d, n in conn.execute(stmt.group_by(i.definition_id)).all()}

    def procedures(self) -> list[dict[str, Any]]:
        """Every published procedure: its current version, how many versions, cases running on
        any of them, the procedures its current version calls and those that call it."""
        catalogue = self._catalogue()
        out = []
        for process_id, rows in sorted(catalogue["versions"].items()):
            latest = rows[-1]
            out.append(
                {
                    "process_id": process_id,
                    "title": latest["title"],
                    "latest_version": latest["version"],
                    "latest_id": latest["id"],
                    "published_at": latest["published_at"],
                    "published_by": latest["published_by"],
                    "versions": len(rows),
                    "running_cases": sum(catalogue["running"].get(r["id"], 0) for r in rows),
                    "calls": list(catalogue["facts"][latest["id"]].calls),
                    "callers": self._callers_in(catalogue, process_id),
                }
            )
        return out

    def callers(self, process_id: str) -> list[dict[str, Any]]:
        """The procedures whose current version holds a copy of this one ("frozen into its
        callers"): {process_id, version, frozen_sha256, frozen_version, outdated}. `outdated`:
        the copy differs from this procedure's current version, so the caller still runs the
        old one until it is republished. NotFound: the procedure was never published."""
        catalogue = self._catalogue()
        if process_id not in catalogue["versions"]:
            raise NotFound(f"procedure '{process_id}' has no published version")
        return self._callers_in(catalogue, process_id)

    def _catalogue(self) -> dict[str, Any]:
        """Every version's row (no files, no spec) and facts, and the running cases per version."""
        cols = definition_table.c
        with self.db.read() as conn:
            rows = _version_rows(conn)
            running = self._running(conn)
            missing = [r["id"] for r in rows if r["id"] not in self._facts]
            for chunk in _chunks(missing, 200):
                for found in conn.execute(
                    select(cols.id, cols.process_id, cols.files).where(cols.id.in_(chunk))
                ):
                    self._version_facts(found.id, found.process_id, found.files or {})
        versions: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            versions.setdefault(r["process_id"], []).append(dict(r))
        return {
            "versions": versions,
            "running": running,
            "facts": {r["id"]: self._facts[r["id"]] for r in rows},
        }

    @staticmethod
    def _callers_in(catalogue: dict[str, Any], process_id: str) -> list[dict[str, Any]]:
        facts: dict[int, _Facts] = catalogue["facts"]
        mine = catalogue["versions"][process_id]
        current = facts[mine[-1]["id"]]
        folder = current.main_file.rpartition("/")[0]
        if not folder:  # an old version keyed without folders: no copy can be recognised
            return []
        by_folder_hash = {facts[r["id"]].folder_sha256: r["version"] for r in mine}
        out = []
        for other, rows in sorted(catalogue["versions"].items()):
            if other == process_id:
                continue
            latest = rows[-1]
            if current.main_file not in facts[latest["id"]].keys:
                continue
            frozen = facts[latest["id"]].folders.get(folder, "")
            out.append(
                {
                    "process_id": other,
                    "version": latest["version"],
                    "frozen_sha256": frozen,
                    "frozen_version": by_folder_hash.get(frozen),
                    "outdated": frozen != current.folder_sha256,
                }
            )
        return out

    def _version_facts(self, definition_id: int, process_id: str, files: dict[str, str]) -> _Facts:
        cached = self._facts.get(definition_id)
        if cached is not None:
            return cached
        main = _main_file(files, process_id)
        folder = main.rpartition("/")[0]
        grouped: dict[str, dict[str, str]] = {}
        for key, text in files.items():
            grouped.setdefault(key.rpartition("/")[0], {})[key] = text
        own = grouped.get(folder, {})
        trees = []
        for key, text in own.items():
            if key.endswith(".bpmn"):
                try:
                    trees.append(parse_xml(text.encode(), key))
                except ModelError:
                    continue
        defined = {pid for t in trees for pid in _executable_process_ids(t)}
        calls = sorted({c for t in trees for c in _called_elements(t)} - defined)
        facts = _Facts(
            main_file=main,
            folder_sha256=files_sha256(own),
            calls=tuple(calls),
            keys=frozenset(files),
            folders={name: files_sha256(group) for name, group in grouped.items()},
        )
        with self._lock:
            self._facts[definition_id] = facts
        return facts


def _version_rows(conn: Connection) -> Sequence[RowMapping]:
    """Every published version's row without its files and spec, by procedure and version."""
    cols = definition_table.c
    return (
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


def _parser_error(
    exc: ValidationException, trees: dict[str, etree._ElementTree], default_file: str
) -> ModelError:
    """The library's refusal located (file, line, element) and worded by engine/foreign.py."""
    filename = exc.file_name or default_file
    element_id = getattr(exc, "id", None) or None
    line = exc.line_number if isinstance(exc.line_number, int) else None
    tree = trees.get(filename)
    if line is None and element_id and tree is not None:
        found = tree.xpath("//*[@id=$eid]", eid=element_id)
        if found:
            line = found[0].sourceline
    return clean_parser_error(str(exc), filename, line, element_id)


def _check_gateway_conditions(tree: etree._ElementTree, name: str) -> None:
    """An exclusive or inclusive gateway with several ways out must be able to choose: each
    outgoing flow has a condition or is the gateway's default. (The library refuses it too,
    but only when parsing, after every other check, and without naming the gateway.)"""
    outgoing: dict[str, list[etree._Element]] = {}
    for flow in tree.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        outgoing.setdefault(flow.get("sourceRef") or "", []).append(flow)
    for tag in ("exclusiveGateway", "inclusiveGateway"):
        for gateway in tree.iter(f"{{{BPMN_NS}}}{tag}"):
            flows = outgoing.get(gateway.get("id") or "", [])
            if len(flows) < 2:
                continue
            for flow in flows:
                condition = flow.find(f"{{{BPMN_NS}}}conditionExpression")
                if flow.get("id") == gateway.get("default") or (
                    condition is not None and (condition.text or "").strip()
                ):
                    continue
                label = gateway.get("name") or gateway.get("id")
                raise ModelError(
                    f"gateway '{label}' has {len(flows)} outgoing flows and this one has no "
                    "condition and is not the gateway's default flow, so the engine cannot "
                    "decide when to take it: give it a condition (a Python expression, e.g. "
                    "amount > 0) or make it the gateway's default flow",
                    filename=name,
                    line=flow.sourceline,
                    element_id=flow.get("id"),
                )


def _check_file_set(files: Any, main: Any) -> None:
    """A file set comes from a person (an upload, a draft): bounded and well named before
    anything is parsed."""
    if not isinstance(files, dict) or not files:
        raise ModelError("the model has no files")
    if len(files) > MAX_FILES:
        raise ModelError(f"a model holds at most {MAX_FILES} files; this one has {len(files)}")
    for key, text in files.items():
        if not isinstance(key, str) or not isinstance(text, str):
            raise ModelError("file names and contents must be text")
        parts = key.split("/")
        if (
            len(key) > MAX_KEY_LENGTH
            or not key.endswith(MODEL_SUFFIXES)
            or "\\" in key
            or any(part in ("", ".", "..") for part in parts)
            or any(ord(ch) < 32 for ch in key)
        ):
            raise ModelError(
                f"'{key[:MAX_KEY_LENGTH]}' is not a usable file name: a model holds .bpmn, "
                ".dmn and .form.json files named 'folder/file' or 'file'"
            )
        size = len(text.encode())
        if size > MAX_MODEL_BYTES:
            raise ModelError(
                f"file is {size:,} bytes; models are limited to {MAX_MODEL_BYTES:,} bytes",
                filename=key,
            )
    if not isinstance(main, str) or main not in files:
        raise ModelError(f"the main model '{main}' is not among the model's files")
    if not main.endswith(".bpmn"):
        raise ModelError("the main model must be a .bpmn file", filename=main)


def _read_text(path: Path, key: str) -> str:
    if path.stat().st_size > MAX_MODEL_BYTES:
        raise ModelError(
            f"file is {path.stat().st_size:,} bytes; models are limited to "
            f"{MAX_MODEL_BYTES:,} bytes",
            filename=key,
        )
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelError(
            f"file is not UTF-8 text (byte {exc.start}): save it as UTF-8", filename=key
        ) from exc


def _disk_folder(repository: Repository, path: Path) -> dict[str, str]:
    """A called procedure's folder in the BPMN directory, keyed canonically."""
    files, _main = repository.read_folder(path)
    trees: dict[str, etree._ElementTree] = {}
    for key, text in files.items():
        if key.endswith(".bpmn"):
            try:
                trees[key] = parse_xml(text.encode(), key)
            except ModelError:
                continue
    pid = _folder_process(path.parent.name, sorted(files), trees)
    return {f"{pid}/{key.rpartition('/')[2]}": text for key, text in files.items()}


def _canonical_keys(
    files: dict[str, str], main: str, process_id: str, trees: dict[str, etree._ElementTree]
) -> dict[str, str]:
    """Given key -> `<process id of its folder's main process>/<filename>`: the main BPMN's
    folder (whatever it was called, or none) is the procedure's; another folder is named by its
    own main process. The bpmn/ folders are named like their processes, so their versions keep
    the keys (and hashes) they always had."""
    groups: dict[str, list[str]] = {}
    for key in files:
        groups.setdefault(key.rpartition("/")[0], []).append(key)
    main_folder = main.rpartition("/")[0]
    mapping: dict[str, str] = {}
    for folder, keys in groups.items():
        own = folder == main_folder
        pid = process_id if own else _folder_process(folder, sorted(keys), trees)
        for key in keys:
            mapping[key] = f"{pid}/{key.rpartition('/')[2]}" if pid else key
    return mapping


def _folder_process(folder: str, keys: list[str], trees: dict[str, etree._ElementTree]) -> str:
    """The process a folder is named by: its own name when one of its BPMN defines an
    executable process of that name; else the first executable process of its main BPMN (named
    like the folder, or the first); else the folder's name."""
    last = folder.rpartition("/")[2]
    bpmns = [k for k in keys if k.endswith(".bpmn") and k in trees]
    if last and any(last in _executable_process_ids(trees[k]) for k in bpmns):
        return last
    named = [k for k in bpmns if k.rpartition("/")[2] == f"{last}.bpmn"]
    for key in named + bpmns:
        found = _executable_process_ids(trees[key])
        if found:
            return found[0]
    return last


def _main_file(files: dict[str, str], process_id: str) -> str:
    """The key of a version's main BPMN: the one defining its process as executable, preferring
    `<process id>/<process id>.bpmn` and its own folder."""
    preferred = f"{process_id}/{process_id}.bpmn"
    if preferred in files:
        return preferred
    bpmns = sorted(
        (k for k in files if k.endswith(".bpmn")),
        key=lambda k: (k.rpartition("/")[0] != process_id, k),
    )
    for key in bpmns:
        if f'"{process_id}"' not in files[key] and f"'{process_id}'" not in files[key]:
            continue
        try:
            if process_id in _executable_process_ids(parse_xml(files[key].encode(), key)):
                return key
        except ModelError:
            continue
    return bpmns[0] if bpmns else ""


def _bounded_text(value: Any, what: str, limit: int, *, required: bool = False) -> str:
    """A person's free text kept with a version (note, legal basis): text, bounded."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidOperation(f"{what} must be text")
    value = value.strip()
    if required and not value:
        raise InvalidOperation(f"{what} is required: say what changed and why")
    if len(value) > limit:
        raise InvalidOperation(f"{what} is {len(value)} characters long; at most {limit}")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
        raise InvalidOperation(f"{what} contains control characters")
    return value


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


SpecLoader = Callable[[int], LoadedDefinition]
