"""Drafts of procedure models: a version's files (or a `.bpmn` drawn elsewhere) being edited on
the server before they are published.

A draft is the whole file set of a procedure as the repository publishes it: keys are canonical
(`<process id>/<file name>`), `main` is the key of the main BPMN. Drafts are shared: every
methodologist sees and edits every draft, so each save names the revision it was made against
and a save against a moved revision is refused (ConflictError), never merged. Checking,
trying and publishing go through the repository and the trial runner, the same code the CLI
uses; this module only keeps the files and bounds what people may put in them.

Who may edit or publish is not decided here (workflows/rights.py, asked by the doors); `actor`
is the login recorded with the draft and with the published version.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update

from .errors import ConflictError, EngineError, ModelError, NotFound
from .models import Definition, ModelDraft
from .safety.xmlparse import parse_xml

if TYPE_CHECKING:
    from .engine import Engine
    from .repository import LoadedDefinition

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
#: one file of a draft (the repository's own limit for a model file)
MAX_FILE_BYTES = 2_000_000
#: files of one draft (a procedure with the procedures it calls, their forms and tables)
MAX_FILES = 60
#: all files of one draft together
MAX_DRAFT_BYTES = 12_000_000
#: a process id as a folder name and as the repository keeps it
PROCESS_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,199}$")
#: a file key: `<folder>/<file>` with a model suffix, no path tricks
FILE_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}/[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$")
SUFFIXES = (".bpmn", ".dmn", ".form.json")

drafts_table = ModelDraft.__table__
definitions = Definition.__table__


class DraftRefused(EngineError):
    """A draft operation refused for its input; `code` and `params` let each door say it in the
    user's language, the message says it in English (CLI, logs)."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(message)


class DraftProblems(EngineError):
    """A draft that does not check cannot be published; `problems` as Repository.check_files
    gives them (message, file, line, element_id, element_name)."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p.get("message")) for p in problems))


class DraftConflict(ConflictError):
    """Someone saved the draft after the revision this save was made against."""

    def __init__(self, *, by: str, at: datetime, revision: int) -> None:
        self.at = at
        self.revision = revision
        super().__init__(
            f"the draft was saved by {by} at {at.isoformat()} meanwhile; reload it", by=by
        )


def _process_ids(tree: Any) -> list[str]:
    processes = list(tree.iter(f"{{{BPMN_NS}}}process"))
    executable = [p.get("id") for p in processes if p.get("isExecutable", "false") == "true"]
    return [pid for pid in executable or [p.get("id") for p in processes] if pid]


def check_content(name: str, content: str) -> None:
    """A file as people send it: a known kind, within its size, readable (well-formed XML, a
    JSON object). Whether the model is right is Check's business, not this."""
    if not FILE_KEY.match(name) or not name.endswith(SUFFIXES) or ".." in name:
        raise DraftRefused(
            "bad_file_name",
            f"'{name[:200]}' is not a model file name (folder/name.bpmn, .dmn or .form.json)",
            name=name[:200],
        )
    data = content.encode("utf-8")
    if len(data) > MAX_FILE_BYTES:
        raise DraftRefused(
            "file_too_large",
            f"{name} is {len(data):,} bytes; a file may have at most {MAX_FILE_BYTES:,} bytes",
            name=name,
            size=len(data),
            limit=MAX_FILE_BYTES,
        )
    if name.endswith(".form.json"):
        try:
            value = json.loads(content)
        except ValueError as exc:
            line = getattr(exc, "lineno", None)
            raise DraftRefused(
                "malformed_json", f"{name}: not JSON (line {line})", name=name, line=line
            ) from exc
        if not isinstance(value, dict):
            raise DraftRefused("malformed_json", f"{name}: not a JSON object", name=name, line=1)
        return
    try:
        parse_xml(data, name, max_bytes=MAX_FILE_BYTES)
    except ModelError as exc:
        raise _xml_refusal(exc, name) from exc


def _xml_refusal(exc: ModelError, name: str) -> DraftRefused:
    """Malformed XML said briefly: the parser's own words and line (the door adds what to do),
    not the repository's whole sentence."""
    cause = exc.__cause__
    problem = getattr(cause, "msg", None) or exc.message
    line = getattr(cause, "lineno", None) or exc.line
    return DraftRefused(
        "malformed_xml",
        str(exc),
        name=name,
        line=line,
        problem=str(problem).strip().rstrip("."),
    )


def _bounded(files: dict[str, str]) -> None:
    if len(files) > MAX_FILES:
        raise DraftRefused(
            "too_many_files",
            f"a draft may hold at most {MAX_FILES} files",
            limit=MAX_FILES,
        )
    total = sum(len(v.encode("utf-8")) for v in files.values())
    if total > MAX_DRAFT_BYTES:
        raise DraftRefused(
            "draft_too_large",
            f"the draft's files have {total:,} bytes; at most {MAX_DRAFT_BYTES:,}",
            size=total,
            limit=MAX_DRAFT_BYTES,
        )


def main_file_of(loaded: LoadedDefinition) -> str:
    """The key of a version's main BPMN (`main_file` where the repository gives it)."""
    main = getattr(loaded, "main_file", None)
    if main:
        return str(main)
    pid = loaded.process_id
    for key in (f"{pid}/{pid}.bpmn",):
        if key in loaded.files:
            return key
    for key in sorted(loaded.files):
        if key.endswith(".bpmn") and f'id="{pid}"' in loaded.files[key]:
            return key
    raise NotFound(f"version {loaded.version} of '{pid}' has no main BPMN file")


class DraftService:
    """Drafts kept in `model_draft`; one transaction per operation."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- creating ---------------------------------------------------------------------------

    def _insert(
        self,
        *,
        process_id: str,
        base_definition_id: int | None,
        main: str,
        files: dict[str, str],
        actor: str,
        now: datetime,
    ) -> int:
        _bounded(files)
        with self.engine.db.write() as conn:
            return int(
                conn.execute(
                    insert(drafts_table).values(
                        process_id=process_id,
                        base_definition_id=base_definition_id,
                        main=main,
                        files=files,
                        revision=1,
                        created_by=actor,
                        created_at=now,
                        updated_by=actor,
                        updated_at=now,
                    )
                ).inserted_primary_key[0]
            )

    def create_from_version(self, definition_id: int, *, actor: str, now: datetime) -> int:
        """A new draft holding a copy of a published version's files (any version, not only
        the latest: that is how an older one is taken up again)."""
        loaded = self.engine.repository.get(definition_id)
        return self._insert(
            process_id=loaded.process_id,
            base_definition_id=loaded.id,
            main=main_file_of(loaded),
            files=dict(loaded.files),
            actor=actor,
            now=now,
        )

    def create_from_upload(
        self, filename: str, content: bytes, *, actor: str, now: datetime
    ) -> int:
        """A new draft from a `.bpmn` drawn in another tool. The process id is read from the
        file (its executable process, else its first one) and names the draft's folder."""
        shown = (filename or "").replace("\\", "/").rsplit("/", 1)[-1][:200] or "?"
        if not shown.lower().endswith(".bpmn"):
            raise DraftRefused(
                "not_bpmn", f"{shown}: only a .bpmn file can be imported", name=shown
            )
        if len(content) > MAX_FILE_BYTES:
            raise DraftRefused(
                "file_too_large",
                f"{shown} is {len(content):,} bytes; a file may have at most "
                f"{MAX_FILE_BYTES:,} bytes",
                name=shown,
                size=len(content),
                limit=MAX_FILE_BYTES,
            )
        try:
            tree = parse_xml(content, shown, max_bytes=MAX_FILE_BYTES)
        except ModelError as exc:
            raise _xml_refusal(exc, shown) from exc
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DraftRefused(
                "not_utf8", f"{shown}: the file is not UTF-8 text", name=shown
            ) from exc
        ids = _process_ids(tree)
        if not ids:
            raise DraftRefused("no_process", f"{shown}: the file holds no BPMN process", name=shown)
        process_id = ids[0]
        if not PROCESS_ID.match(process_id):
            raise DraftRefused(
                "bad_process_id",
                f"{shown}: process id '{process_id[:200]}' may hold only Latin letters, digits, "
                "'_', '-' and '.', and must start with a letter",
                name=shown,
                process_id=process_id[:200],
            )
        main = f"{process_id}/{process_id}.bpmn"
        return self._insert(
            process_id=process_id,
            base_definition_id=None,
            main=main,
            files={main: text},
            actor=actor,
            now=now,
        )

    # -- reading ----------------------------------------------------------------------------

    def get(self, draft_id: int) -> dict[str, Any]:
        d, v = drafts_table.c, definitions.c
        with self.engine.db.read() as conn:
            row = (
                conn.execute(
                    select(drafts_table, v.version.label("base_version"))
                    .select_from(drafts_table.outerjoin(definitions, v.id == d.base_definition_id))
                    .where(d.id == draft_id)
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"draft {draft_id} does not exist")
        return dict(row)

    def list(self, process_id: str | None = None) -> list[dict[str, Any]]:
        """Every draft (newest change first), without their files."""
        d, v = drafts_table.c, definitions.c
        stmt = (
            select(
                d.id,
                d.process_id,
                d.main,
                d.base_definition_id,
                v.version.label("base_version"),
                d.revision,
                d.created_by,
                d.created_at,
                d.updated_by,
                d.updated_at,
            )
            .select_from(drafts_table.outerjoin(definitions, v.id == d.base_definition_id))
            .order_by(d.updated_at.desc(), d.id.desc())
        )
        if process_id is not None:
            stmt = stmt.where(d.process_id == process_id)
        with self.engine.db.read() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]

    # -- changing ---------------------------------------------------------------------------

    def save_file(
        self,
        draft_id: int,
        name: str,
        content: str,
        *,
        revision: int,
        actor: str,
        now: datetime,
    ) -> int:
        """Replace (or add) one file, if the draft is still at `revision`; the new revision.
        DraftConflict (a ConflictError) when someone saved it meanwhile: nothing written."""
        check_content(name, content)
        d = drafts_table.c
        with self.engine.db.write() as conn:
            row = conn.execute(
                select(d.files, d.revision, d.updated_by, d.updated_at, d.main).where(
                    d.id == draft_id
                )
            ).first()
            if row is None:
                raise NotFound(f"draft {draft_id} does not exist")
            if row.revision != revision:
                raise DraftConflict(by=row.updated_by, at=row.updated_at, revision=row.revision)
            if name.endswith(".bpmn") and name == row.main:
                tree = parse_xml(content.encode("utf-8"), name)
                ids = _process_ids(tree)
                process_id = name.split("/", 1)[0]
                if process_id not in ids:
                    raise DraftRefused(
                        "process_id_changed",
                        f"{name}: the main process must keep its id '{process_id}'",
                        name=name,
                        process_id=process_id,
                    )
            files = {**row.files, name: content}
            _bounded(files)
            moved = conn.execute(
                update(drafts_table)
                .where(d.id == draft_id, d.revision == revision)
                .values(files=files, revision=revision + 1, updated_by=actor, updated_at=now)
            ).rowcount
            if moved != 1:  # saved by another request between our read and this update
                again = conn.execute(
                    select(d.revision, d.updated_by, d.updated_at).where(d.id == draft_id)
                ).one()
                raise DraftConflict(
                    by=again.updated_by, at=again.updated_at, revision=again.revision
                )
        return revision + 1

    def delete(self, draft_id: int) -> None:
        with self.engine.db.write() as conn:
            gone = conn.execute(delete(drafts_table).where(drafts_table.c.id == draft_id)).rowcount
        if gone != 1:
            raise NotFound(f"draft {draft_id} does not exist")

    # -- check, try, publish ----------------------------------------------------------------

    def check(self, draft_id: int) -> list[dict[str, Any]]:
        """The engine's own validation of the draft: [] when it checks."""
        draft = self.get(draft_id)
        return list(self.engine.repository.check_files(draft["files"], draft["main"]))

    def try_run(self, draft_id: int, *, now: datetime, data: dict[str, Any]) -> dict[str, Any]:
        """Run the draft in memory (engine/trial.py): nothing persists."""
        from .trial import try_files

        draft = self.get(draft_id)
        return try_files(self.engine, draft["files"], draft["main"], now=now, data=data)

    def publish(
        self,
        draft_id: int,
        *,
        actor: str,
        note: str,
        legal_basis: str = "",
        now: datetime,
        revision: int | None = None,
    ) -> tuple[LoadedDefinition, bool]:
        """Publish the draft as the procedure's next version, only if it checks (DraftProblems
        otherwise, nothing published) and, when `revision` is given, only if nobody saved it
        since. The published draft is deleted: its content lives on as the version."""
        note = (note or "").strip()
        if not note:
            raise DraftRefused("note_required", "a change note is required to publish")
        draft = self.get(draft_id)
        if revision is not None and draft["revision"] != revision:
            raise DraftConflict(
                by=draft["updated_by"], at=draft["updated_at"], revision=draft["revision"]
            )
        problems = self.engine.repository.check_files(draft["files"], draft["main"])
        if problems:
            raise DraftProblems(list(problems))
        result = self.engine.repository.publish_files(
            draft["files"],
            draft["main"],
            actor=actor,
            note=note,
            legal_basis=(legal_basis or "").strip(),
            now=now,
        )
        with self.engine.db.write() as conn:
            conn.execute(
                delete(drafts_table).where(
                    drafts_table.c.id == draft_id,
                    drafts_table.c.revision == draft["revision"],
                )
            )
        return result
