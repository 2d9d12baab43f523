"""The `nadzor` command: database, definitions, timers, worker, audit, server, benchmarks.

A configuration or database problem (an unparsable or unreachable NADZOR_DATABASE_URL, a
missing or unmigrated database, a folder given as a model, a port in use) is answered with one
line saying what to do, and exit status 2. Any other exception keeps its traceback: it is a bug.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import exc as sa_exc

from engine.config import Settings, load_settings
from engine.errors import Busy, EngineError, ModelError
from web.serving import MAX_THREADS


class Problem(click.ClickException):
    """A problem of configuration or of the database that the operator can fix: one line on
    stderr saying what to do, exit status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class NadzorGroup(click.Group):
    """Turns the database errors a command meets into a `Problem` when they come from the
    configuration (unreachable, missing or unmigrated database, lock held too long); anything
    else is raised as it is."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Busy as exc:
            raise Problem(str(exc)) from exc
        except (sa_exc.DBAPIError, sa_exc.TimeoutError) as exc:
            problem = _database_problem(load_settings().database_url)
            if problem is None:
                raise
            raise Problem(problem) from exc


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


def _parse_instant(value: str) -> datetime:
    try:
        instant = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"'{value}' is not an ISO instant, e.g. 2026-11-25T10:00:00+05:00"
        ) from exc
    if instant.tzinfo is None:
        raise click.BadParameter("give the instant with its offset, e.g. +05:00 or Z")
    return instant.astimezone(UTC)


def _settings() -> Settings:
    """The settings, once NADZOR_DATABASE_URL is known to be a URL with a usable driver."""
    from sqlalchemy.engine import make_url

    settings = load_settings()
    url = settings.database_url
    try:
        make_url(url).get_dialect().import_dbapi()
    except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError, ImportError, ValueError) as exc:
        raise Problem(
            f"NADZOR_DATABASE_URL '{_safe_url(url)}' is not a database URL Nadzor can use "
            f"({exc}): set it to e.g. sqlite:///var/nadzor.db or "
            "postgresql+psycopg://user@host:5432/dbname"
        ) from exc
    return settings


def _engine(threads: int | None = None) -> Any:
    from engine.db import Database
    from workflows.runtime import build_engine

    settings = _settings()
    try:
        db = Database(settings.database_url, **({"threads": threads} if threads else {}))
    except OSError as exc:  # the SQLite file's folder cannot be made
        raise Problem(
            f"cannot create the SQLite database at '{_safe_url(settings.database_url)}' "
            f"({exc.strerror}: {exc.filename}): set NADZOR_DATABASE_URL to a writable place"
        ) from exc
    return build_engine(settings, db=db)


def _database_problem(url: str) -> str | None:
    """What is wrong with the database at `url` for this version of Nadzor, in one sentence
    that says what to do; None when it is reachable and migrated to this version's heads."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from engine.migrate import alembic_config
    from workflows.migrate import DOMAIN_VERSIONS

    safe = _safe_url(url)
    try:
        connect_args = {} if url.startswith("sqlite") else {"connect_timeout": 5}
        probe = create_engine(url, poolclass=NullPool, connect_args=connect_args)
        try:
            with probe.connect() as conn:
                current = set(MigrationContext.configure(conn).get_current_heads())
        finally:
            probe.dispose()
    except sa_exc.DBAPIError as exc:
        reason = " ".join(str(exc.orig).split()) if exc.orig is not None else str(exc)
        return (
            f"cannot use the database at '{safe}' ({reason}): start the database server, "
            "create the database, or correct NADZOR_DATABASE_URL"
        )
    except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError) as exc:
        return f"NADZOR_DATABASE_URL '{safe}' is not a database URL ({exc}): correct it"
    scripts = ScriptDirectory.from_config(alembic_config(url, [DOMAIN_VERSIONS]))
    heads = set(scripts.get_heads())
    if current == heads:
        return None
    if not current:
        return f"the database at '{safe}' has no Nadzor tables yet: run `nadzor db upgrade`"
    known = {rev.revision for rev in scripts.walk_revisions()}
    if current - known:
        return (
            f"the database at '{safe}' was migrated by a newer Nadzor (revision "
            f"{', '.join(sorted(current - known))}): run that version, or restore a backup"
        )
    return (
        f"the database at '{safe}' is at an older schema ({', '.join(sorted(current))}): "
        "run `nadzor db upgrade`"
    )


def _require_database(url: str) -> None:
    """Refuse to run (one line, exit 2) on a database that is unreachable or unmigrated."""
    problem = _database_problem(url)
    if problem is not None:
        raise Problem(problem)


def _model_file(file: Path) -> Path:
    if file.is_dir():
        found = sorted(file.glob("*.bpmn")) or sorted(file.glob("*/*.bpmn"))
        hint = f", e.g. {found[0]}" if found else ""
        raise Problem(
            f"'{file}' is a folder: give the model's .bpmn file{hint} "
            "(its DMN tables and forms are read from the same folder)"
        )
    return file


@click.group(cls=NadzorGroup)
def main() -> None:
    """Nadzor: BPMN orchestration of supervisory procedures."""


# -- database ------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations to NADZOR_DATABASE_URL."""
    from workflows.migrate import upgrade

    settings = _settings()
    try:
        upgrade(settings.database_url, revision)
    except OSError as exc:  # the SQLite file's folder cannot be made
        raise Problem(
            f"cannot create the SQLite database at '{_safe_url(settings.database_url)}' "
            f"({exc.strerror}: {exc.filename}): set NADZOR_DATABASE_URL to a writable place"
        ) from exc
    click.echo(f"database at revision {revision}: {_safe_url(settings.database_url)}")


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@main.command("seed-demo")
@click.option("--json", "as_json", is_flag=True)
def seed_demo(as_json: bool) -> None:
    """Publish the procedures and load the demo cases; running it again changes nothing, and
    after a stop half-way it starts only the demo cases that are missing."""
    from workflows.demo import seed

    report = seed(_engine())
    if as_json:
        _echo_json(report)
    else:
        for line in report.get("lines", []):
            click.echo(line)


# -- organization and users ---------------------------------------------------------------------


@main.group()
def users() -> None:
    """User accounts."""


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
def users_list(as_json: bool) -> None:
    from workflows.users import UserDirectory

    rows = [
        {
            "login": u.login,
            "name": u.name,
            "office_code": u.office_code,
            "office_level": u.office_level,
            "roles": list(u.roles),
        }
        for u in UserDirectory(_engine().db).list()
    ]
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        click.echo(
            f"{r['login']:<22} {','.join(r['roles']):<24} {r['office_code']:<10} {r['name']}"
        )


@users.command("token")
@click.argument("login")
def users_token(login: str) -> None:
    """Issue a new API token for LOGIN (replaces the previous one) and print it.

    The token alone goes to stdout (so `$(nadzor users token x)` captures it); when it expires
    goes to stderr.
    """
    from workflows.users import TOKEN_LIFETIME, UserDirectory

    token, expires = UserDirectory(_engine().db).issue_token_until(login)
    click.echo(token)
    click.echo(
        f"the token expires at {expires.isoformat(timespec='seconds')} "
        f"(in {TOKEN_LIFETIME.days} days)",
        err=True,
    )


@main.group()
def org() -> None:
    """Offices and supervised institutions."""


@org.command("institutions")
@click.option("--json", "as_json", is_flag=True)
def org_institutions(as_json: bool) -> None:
    from workflows.organization import OrganizationDirectory

    directory = OrganizationDirectory(_engine().db)
    rows = [
        {
            "code": i.code,
            "name": i.name,
            "kind": i.kind,
            "district_office_code": i.district_office_code,
            "regional_office_code": directory.ancestor(i.district_office_code, "regional"),
            "remote": i.remote,
        }
        for i in sorted(directory.institutions(), key=lambda i: i.code)
    ]
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        remote = "remote" if r["remote"] else ""
        click.echo(f"{r['code']:<14} {r['district_office_code']:<10} {remote:<7} {r['name']}")


@org.command("report-term")
@click.argument("office")
@click.option("--day", type=int, help="set the day of the month after the quarter (1-28)")
@click.option("--actor", help="the login setting it: a head of that regional office or an admin")
@click.option("--json", "as_json", is_flag=True)
def org_report_term(office: str, day: int | None, actor: str | None, as_json: bool) -> None:
    """A regional office's term for its districts' quarterly information (¶13.17): shown, or
    set with --day by --actor under the same rule as every other door (workflows/rights.py)."""
    from engine.errors import NotFound
    from workflows.organization import OrganizationDirectory
    from workflows.quarterly import report_due_day, set_report_term
    from workflows.rights import Rights
    from workflows.users import UserDirectory

    engine = _engine()
    if day is not None:
        if not actor:
            raise Problem("say who sets the term: --actor LOGIN")
        users = UserDirectory(engine.db)
        try:
            user = users.get(actor)
        except NotFound as exc:
            raise Problem(str(exc)) from None
        refusal = Rights(OrganizationDirectory(engine.db), lambda _: None).may_set_report_term(
            user, office
        )
        if refusal is not None:
            raise Problem(refusal.message)
        try:
            set_report_term(engine.db, office, day, actor=actor, now=engine.clock.now())
        except ValueError as exc:
            raise Problem(str(exc)) from None
    result = {"office": office, "day": report_due_day(engine.db, office)}
    if as_json:
        _echo_json(result)
    else:
        click.echo(f"{office}: the districts report by day {result['day']} of the next month")


# -- definitions ---------------------------------------------------------------------------------


@main.group()
def definitions() -> None:
    """Published procedure versions."""


@definitions.command("list")
@click.option("--json", "as_json", is_flag=True)
def definitions_list(as_json: bool) -> None:
    rows = _engine().repository.list()
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['process_id']:<28} v{r['version']:<3} {r['sha256'][:12]}  {r['title']}")


@definitions.command("validate")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def definitions_validate(file: Path, as_json: bool) -> None:
    """Check a model without publishing it; exit 1 with the reason when it is unusable."""
    file = _model_file(file)
    try:
        model = _engine().repository.parse_file(file)
    except ModelError as exc:
        _fail(
            as_json,
            exc,
            filename=exc.filename,
            line=exc.line,
            element_id=exc.element_id,
            element_name=exc.element_name,
        )
        return
    result = {
        "ok": True,
        "process_id": model.process_id,
        "sha256": model.sha256,
        "files": sorted(model.files),
    }
    _echo_json(result) if as_json else click.echo(
        f"ok: {model.process_id} ({len(model.files)} files)"
    )


#: the largest --data @file read (the engine's data limit is 256 KiB; more is refused unread)
MAX_TRY_DATA_BYTES = 1024 * 1024


def _try_data(value: str | None) -> Any:
    """--data: a JSON object, inline or `@file.json`; unreadable or not JSON: a usage error."""
    if value is None:
        return {}
    hint = "'--data'"
    text = value
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_TRY_DATA_BYTES + 1)
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read '{path}': {exc.strerror}", param_hint=hint
            ) from exc
        if len(raw) > MAX_TRY_DATA_BYTES:
            raise click.BadParameter(
                f"'{path}' is larger than {MAX_TRY_DATA_BYTES} bytes", param_hint=hint
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise click.BadParameter(f"'{path}' is not UTF-8 text", param_hint=hint) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); give an object, "
            'e.g. \'{"institution": "UK-161-2"}\' or @start.json',
            param_hint=hint,
        ) from exc


@definitions.command("try")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--now", "now_text", default=None, help="ISO instant with offset (default: now)")
@click.option("--data", "data_text", default=None, help="start data: a JSON object or @file.json")
@click.option("--json", "as_json", is_flag=True)
def definitions_try(file: Path, now_text: str | None, data_text: str | None, as_json: bool) -> None:
    """Run a model in the real engine without publishing it or keeping anything: the tasks
    with their offices, the timers with their due instants, the path; exit 1 when it fails."""
    from engine.calendar import to_local
    from engine.trial import try_path

    file = _model_file(file)
    data = _try_data(data_text)
    engine = _engine()
    now = _parse_instant(now_text) if now_text else engine.clock.now()
    result = try_path(engine, file, now=now, data=data)
    if as_json:
        _echo_json(result)
    elif result["ok"]:
        click.echo(f"{result['process_id']}: {result['status']}")
        click.echo("tasks:" if result["tasks"] else "tasks: none")
        for t in result["tasks"]:
            office = t["office_code"] or "no office"
            click.echo(f"  {t['title']} ({t['name']}) - lane '{t['lane']}' -> {office}")
        click.echo("timers:" if result["timers"] else "timers: none")
        for t in result["timers"]:
            local = to_local(datetime.fromisoformat(t["due_at"]))
            click.echo(f"  {t['element']}: due {local:%d.%m.%Y %H:%M} Almaty ({t['due_at']})")
        click.echo("path:")
        for step in result["path"]:
            click.echo(f"  {step['name'] or step['element']} ({step['element']})")
        if result["status"] == "stopped_at_service":
            click.echo("stopped at a service task: outside systems are not called in a trial")
    else:
        click.echo(f"error: {result['error']}", err=True)
    if not result["ok"]:
        sys.exit(1)


@definitions.command("publish")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--actor", required=True, help="the publishing methodologist's login")
@click.option("--note", required=True, help="what changed and why (kept in the history)")
@click.option("--legal-basis", "legal_basis", default="", help="the legal act (¶) it follows")
@click.option("--json", "as_json", is_flag=True)
def definitions_publish(file: Path, actor: str, note: str, legal_basis: str, as_json: bool) -> None:
    """Publish a model as the procedure's new current version, with a change note; it counts at
    once in every running server and worker. Same content as the current version: nothing new;
    an older version's content: a new version number (the way back). --actor must be an active
    methodologist (workflows/rights.py may_publish, the rule of every door); exit 1 otherwise."""
    import getpass

    from engine.errors import ConflictError, InvalidOperation, NotFound
    from workflows.organization import OrganizationDirectory
    from workflows.rights import Rights
    from workflows.users import UserDirectory

    file = _model_file(file)
    engine = _engine()
    try:
        user = UserDirectory(engine.db).get(actor)
    except NotFound:
        _fail(as_json, LookupError(f"user '{actor}' does not exist: give a methodologist's login"))
        return
    if not user.active:
        _fail(as_json, PermissionError(f"user '{actor}' is deactivated and publishes nothing"))
        return
    refusal = Rights(OrganizationDirectory(engine.db), lambda _: None).may_publish(user)
    if refusal is not None:
        _fail(as_json, PermissionError(f"{actor}: {refusal.message}"))
        return
    if not note.strip():
        _fail(as_json, ValueError("--note is required: say what changed and why"))
        return
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        who = "?"
    try:
        loaded, created = engine.repository.publish(
            file,
            actor=actor,
            note=note,
            legal_basis=legal_basis,
            now=engine.clock.now(),
            origin=f"cli:{who}",  # the shell account that named the login, kept in the history
        )
    except ModelError as exc:
        _fail(
            as_json,
            exc,
            filename=exc.filename,
            line=exc.line,
            element_id=exc.element_id,
            element_name=exc.element_name,
        )
        return
    except (InvalidOperation, ConflictError) as exc:
        _fail(as_json, exc)
        return
    result = {
        "process_id": loaded.process_id,
        "version": loaded.version,
        "sha256": loaded.sha256,
        "created": created,
        "note": loaded.note,
    }
    if as_json:
        _echo_json(result)
    else:
        state = "published" if created else "unchanged, already current:"
        click.echo(f"{state} {loaded.process_id} v{loaded.version} ({loaded.sha256[:12]})")


@definitions.command("diff")
@click.argument("process_id")
@click.argument("version_a", type=int)
@click.argument("version_b", type=int)
@click.option("--json", "as_json", is_flag=True)
def definitions_diff(process_id: str, version_a: int, version_b: int, as_json: bool) -> None:
    """What changed from VERSION_A to VERSION_B of a procedure (engine/model_diff.py): elements,
    form fields and decision rules, each property before and after."""
    from engine.errors import NotFound
    from engine.model_diff import diff_versions

    try:
        result = diff_versions(_engine().repository, process_id, version_a, version_b)
    except NotFound as exc:
        _fail(as_json, exc)
        return
    if as_json:
        _echo_json(result)
        return
    for f in result["files"]:
        click.echo(f"{f['change']:<9} file {f['file']}")
    for kind, what in (("elements", "element_id"), ("forms", "field"), ("decisions", "rule")):
        for item in result[kind]:
            label = item.get("name") or item.get(what) or item.get("decision_id")
            click.echo(f"{item['change']:<9} {item['file']}: {label} ({item.get(what)})")
            for p in item["properties"]:
                click.echo(f"          {p['property']}: {p['before']!s} → {p['after']!s}")
    if not any(result[k] for k in ("files", "elements", "forms", "decisions")):
        click.echo("no changes")


def _fail(as_json: bool, exc: Exception, **details: Any) -> None:
    if as_json:
        _echo_json({"ok": False, "error": str(exc), **{k: v for k, v in details.items() if v}})
    else:
        click.echo(f"error: {exc}", err=True)
    sys.exit(1)


# -- running cases: migration to another version, cancellation ----------------------------------


@main.group()
def cases() -> None:
    """Running cases: move them to another version of their procedure, cancel one."""


@cases.command("migrate")
@click.option("--process", "process_id", required=True, help="the procedure (process id)")
@click.option("--to-version", required=True, type=int, help="the version the cases move to")
@click.option("--from-version", type=int, help="only the running cases of this version")
@click.option("--case", "case_ids", multiple=True, type=int, help="these cases (repeatable)")
@click.option("--dry-run", is_flag=True, help="only say what would happen")
@click.option("--actor", required=True, help="a methodologist's or an admin's login")
@click.option("--json", "as_json", is_flag=True)
def cases_migrate(
    process_id: str,
    to_version: int,
    from_version: int | None,
    case_ids: tuple[int, ...],
    dry_run: bool,
    actor: str,
    as_json: bool,
) -> None:
    """Move running cases to another version (engine/case_migration.py), each case in its own
    transaction, deadlines kept; the same rule as the page (workflows/rights.py may_operate).
    Exit 1 when the actor is refused or no case matched."""
    from engine import case_migration
    from engine.errors import NotFound
    from workflows.organization import OrganizationDirectory
    from workflows.rights import Rights
    from workflows.users import UserDirectory

    engine = _engine()
    try:
        user = UserDirectory(engine.db).get(actor)
    except NotFound as exc:
        _fail(as_json, exc)
        return
    refusal = Rights(OrganizationDirectory(engine.db), lambda _: None).may_operate(user)
    if refusal is not None:
        _fail(as_json, PermissionError(refusal.message))
        return
    try:
        target = case_migration.definition_id_of(engine, process_id, to_version)
    except NotFound as exc:
        _fail(as_json, exc)
        return
    ids = list(case_ids) or case_migration.cases_of(engine, process_id, from_version)
    if not ids:
        _fail(as_json, LookupError("no running case matched"))
        return
    if dry_run:
        rows = case_migration.plan(engine, ids, target)
    else:
        rows = case_migration.migrate(engine, ids, target, actor=actor, now=engine.clock.now())
    missing = all(c.get("code") == "missing" for r in rows for c in r.get("reason_codes") or [{}])
    if as_json:
        _echo_json(rows)
    else:
        _print_migration(rows, dry_run)
    if missing:  # none of the cases named exists: nothing matched
        sys.exit(1)


def _print_migration(rows: list[dict[str, Any]], dry_run: bool) -> None:
    for r in rows:
        done = r.get("moved", r["can_move"])
        verb = ("moved" if done else "stays") if not dry_run else ("can move" if done else "stays")
        click.echo(f"case {r['instance_id']}: v{r['from_version']} -> v{r['to_version']} {verb}")
        for reason in r["reasons"]:
            click.echo(f"  why: {reason}")
        for d in r["deadlines"]:
            click.echo(f"  {d['name']}: {d['before']} -> {d['after']}")


def _operator(engine: Any, actor: str, as_json: bool) -> None:
    """`--actor` must be an active methodologist or admin (workflows/rights.py may_operate, the
    rule of the failed-cases page and the API); exit 1 with the refusal otherwise."""
    from engine.errors import NotFound
    from workflows.organization import OrganizationDirectory
    from workflows.rights import Rights
    from workflows.users import UserDirectory

    try:
        user = UserDirectory(engine.db).get(actor)
    except NotFound:
        _fail(as_json, LookupError(f"user '{actor}' does not exist: give your login"))
        return
    refusal = Rights(OrganizationDirectory(engine.db), lambda _: None).may_operate(user)
    if refusal is not None:
        _fail(as_json, PermissionError(f"{actor}: {refusal.message}"), code=refusal.code)


@cases.command("cancel")
@click.argument("case_id", type=int)
@click.option("--reason", required=True, help="why the case is cancelled (kept in its history)")
@click.option("--actor", required=True, help="a methodologist's or an admin's login")
@click.option("--json", "as_json", is_flag=True)
def cases_cancel(case_id: int, reason: str, actor: str, as_json: bool) -> None:
    """Cancel a running case for good: its tasks leave the queues, its timers stop, its
    incidents are resolved, its history records the reason (engine/management.py cancel_case).
    Exit 1 when the actor is refused, the reason is empty or the case is not running."""
    engine = _engine()
    _operator(engine, actor, as_json)
    try:
        result = engine.management.cancel_case(
            case_id, reason=reason, actor=actor, now=engine.clock.now()
        )
    except EngineError as exc:
        _fail(as_json, exc)
        return
    if as_json:
        _echo_json({"ok": True, **result})
    else:
        resolved = len(result["resolved_incidents"])
        click.echo(f"case {case_id} cancelled; {resolved} incidents resolved")


# -- incidents -----------------------------------------------------------------------------------


@main.group()
def incidents() -> None:
    """Failed steps of running cases: list them, retry one after a fix."""


@incidents.command("list")
@click.option("--all", "everything", is_flag=True, help="resolved ones too")
@click.option("--json", "as_json", is_flag=True)
def incidents_list(everything: bool, as_json: bool) -> None:
    """Open incidents (those needing attention and those still retried automatically), with
    their case, task, element, error and attempts; --all: resolved ones too."""
    from web.incidents_ui import incident_json

    rows = _engine().management.incidents(open_only=not everything)
    if as_json:
        _echo_json([incident_json(r) for r in rows])
        return
    for r in rows:
        case = r["business_key"] or r["instance_id"] or "-"
        element = r["element_name"] or r["element_id"] or "-"
        click.echo(
            f"{r['id']:>6} {r['status']:<15} case {case} {r['process_id'] or '-'} "
            f"v{r['version'] or '-'} {element}: {r['error']} ({r['attempts']} attempts)"
        )


@incidents.command("retry")
@click.argument("incident_id", type=int)
@click.option("--actor", required=True, help="a methodologist's or an admin's login")
@click.option("--json", "as_json", is_flag=True)
def incidents_retry(incident_id: int, actor: str, as_json: bool) -> None:
    """Run the failed step again now (after a fix was published and the case migrated): it
    succeeds and the incident is resolved, or it fails again and one more attempt is counted.
    Exit 1 when the actor is refused, the incident is resolved already or has no case."""
    from web.incidents_ui import incident_json

    engine = _engine()
    _operator(engine, actor, as_json)
    try:
        after = engine.management.retry_incident(incident_id, actor=actor, now=engine.clock.now())
    except EngineError as exc:
        _fail(as_json, exc)
        return
    if as_json:
        _echo_json({"ok": after["status"] == "resolved", "incident": incident_json(after)})
    elif after["status"] == "resolved":
        click.echo(f"incident {incident_id} resolved: the step ran again")
    else:
        click.echo(
            f"incident {incident_id} failed again (attempt {after['attempts']}): {after['error']}"
        )


# -- indicators ----------------------------------------------------------------------------------


@main.command("indicators")
@click.option("--office", "office", required=True, help="office code (with the offices below)")
@click.option("--from", "date_from", default=None, help="first day YYYY-MM-DD (Almaty)")
@click.option("--to", "date_to", default=None, help="last day YYYY-MM-DD, inclusive")
@click.option("--as", "login", default=None, help="answer as this user would see it (the rule)")
@click.option("--json", "as_json", is_flag=True)
def indicators(
    office: str, date_from: str | None, date_to: str | None, login: str | None, as_json: bool
) -> None:
    """Supervision indicators of an office and its subordinates (workflows/indicators.py): the
    figures of the page /indicators and of GET /api/v1/indicators. Default period: the current
    quarter. The operator reads every office; `--as LOGIN` applies that user's rule."""
    from engine.calendar import ALMATY
    from workflows.indicators import BadPeriod, figures, flat, may_see_indicators, parse_period
    from workflows.organization import OrganizationDirectory
    from workflows.users import UserDirectory

    engine = _engine()
    directory = OrganizationDirectory(engine.db)
    try:
        start, end = parse_period(date_from, date_to, engine.clock.now().astimezone(ALMATY).date())
    except BadPeriod as exc:
        _fail(as_json, exc)
    if directory.office(office) is None:
        _fail(as_json, ValueError(f"there is no office {office}"))
    if login is not None:
        try:
            user = UserDirectory(engine.db).get(login)
        except Exception:
            _fail(as_json, ValueError(f"there is no user {login}"))
        refusal = may_see_indicators(directory, user, office)
        if refusal is not None:
            _fail(as_json, PermissionError(refusal.message))
    result = figures(engine.db, office, start, end, now=engine.clock.now())
    if as_json:
        _echo_json(result)
        return
    click.echo(f"{office} {start.isoformat()}..{end.isoformat()}")
    for key, value in flat(result):
        click.echo(f"{key:<48} {'' if value is None else value}")


# -- timers, worker, audit -----------------------------------------------------------------------


@main.group()
def timers() -> None:
    """Timer events and retries."""


@timers.command("fire")
@click.option("--now", "now_text", required=True, help="ISO instant with offset")
def timers_fire(now_text: str) -> None:
    """Fire everything due as of --now once; prints {"fired": N, "timers": T,
    "scheduled_starts": S}, N the total fired, S the cases started by a calendar (a timer start
    event: the latest due occurrence, once per office, however often this runs).

    Every due row is handled (in batches of 500, one transaction per step); a case that cannot
    fire is recorded as an incident and postponed, the others still fire. Reminders and
    breaches due by then are recorded too (in the cases' history, not counted)."""
    engine, now = _engine(), _parse_instant(now_text)
    counts = engine.management.fire_due_counts(now)
    engine.management.fire_alerts(now)
    _echo_json(counts)


@timers.command("schedules")
@click.option("--now", "now_text", default=None, help="ISO instant with offset (default: now)")
@click.option("--json", "as_json", is_flag=True)
def timers_schedules(now_text: str | None, as_json: bool) -> None:
    """The calendars procedures start on (timer start events of their newest versions): the
    cycle, the office levels, the last occurrence due and the next one (ISO UTC)."""
    engine = _engine()
    now = _parse_instant(now_text) if now_text else datetime.now(UTC)
    rows = engine.schedules.status(now)
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        click.echo(
            f"{row['process_id']} / {row['start_event']}: {row['cycle']} for "
            f"{', '.join(row['start_for']) or '-'}; last due {row['last_due'] or '-'}, "
            f"next {row['next_at'] or '-'}"
        )


@main.command()
@click.option("--interval", default=1.0, show_default=True, help="seconds between polls")
@click.option("--once", is_flag=True, help="one poll, then exit")
def worker(interval: float, once: bool) -> None:
    """Fire due timers and retry failed service tasks, in a loop."""
    from engine.worker import Worker

    engine = _engine()
    _require_database(engine.db.url)
    _audit_settings()  # a bad NADZOR_AUDIT_KEY is said once, not at every round
    Worker(engine, interval=interval).run(once=once)


@main.group()
def audit() -> None:
    """The tamper-evident history."""


def _audit_settings() -> Any:
    from engine.audit_keys import AuditKeyError, from_environment

    try:
        return from_environment()
    except AuditKeyError as exc:
        raise Problem(f"{exc} (NADZOR_AUDIT_KEY / NADZOR_AUDIT_PUBLIC_KEY)") from exc


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True)
def audit_verify(as_json: bool) -> None:
    """Recompute every chain, stored model and checkpoint (its signature with NADZOR_AUDIT_KEY,
    its copy in NADZOR_AUDIT_LOG); exit 1 naming the first broken row. The result is kept for
    the audit page."""
    from engine.history import verify_and_record

    engine = _engine()
    result = verify_and_record(engine.db, engine.clock.now(), "cli", _audit_settings())
    if as_json:
        _echo_json(result)
    elif result["ok"]:
        click.echo(f"ok: {result['events']} events verified")
    else:
        click.echo(f"BROKEN: {result}", err=True)
    sys.exit(0 if result["ok"] else 1)


@audit.command("checkpoint")
@click.option("--json", "as_json", is_flag=True)
def audit_checkpoint(as_json: bool) -> None:
    """Record a signed checkpoint over the chains that moved since the last one (the worker
    does this at most every NADZOR_CHECKPOINT_SECONDS ≤ 60 when something moved)."""
    engine = _engine()
    _audit_settings()
    result = engine.management.checkpoint()
    _echo_json(result) if as_json else click.echo(f"checkpoint over {result['chains']} chains")


@audit.command("keygen")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def audit_keygen(path: Path) -> None:
    """Create an Ed25519 key for signing checkpoints (PATH, owner-readable) and PATH.pub."""
    from engine.audit_keys import SigningKey

    if path.exists():
        raise Problem(f"{path} exists already: a key is never overwritten")
    key = SigningKey.generate()
    key.write(path)
    click.echo(f"audit key written to {path}, public key to {path}.pub (key id {key.key_id})")


@audit.command("export")
@click.argument("case_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="print the export (JSON, the default)")
def audit_export(case_id: int, as_json: bool) -> None:
    """Print a case's trace with its events' hashes, the signed checkpoint over it and the
    Merkle path, for an outsider to check with `nadzor audit verify-export`."""
    from sqlalchemy import select

    from engine.audit_export import export_case
    from engine.errors import NotFound
    from engine.history import instance_table

    engine = _engine()
    audit = _audit_settings()
    c = instance_table.c
    with engine.db.read() as conn:
        row = conn.execute(
            select(c.audit_seq, c.audit_checkpoint_seq).where(c.id == case_id)
        ).first()
    _record_cli_read("export", case_id, f"nadzor audit export {case_id}", 200 if row else 404)
    if row is None:
        raise Problem(f"case {case_id} does not exist")
    if row.audit_seq != row.audit_checkpoint_seq:  # steps since the last checkpoint: cover them
        engine.management.checkpoint()
    try:
        with engine.db.read() as conn:
            doc = export_case(conn, case_id, audit)
    except NotFound as exc:
        raise Problem(str(exc)) from exc
    click.echo(json.dumps(doc, ensure_ascii=False, indent=None if as_json else 1, default=str))


def _record_cli_read(what: str, case_id: int, command: str, status: int) -> None:
    """A read of a case from the shell is an access like a page's (issue 10: every export by
    anyone): logged as `cli:<OS user>` before anything is printed, so an unlogged read is not
    served."""
    import getpass

    from workflows.access_log import AccessLog, Read

    engine = _engine()
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        who = "?"
    read = Read(
        at=engine.clock.now(),
        login=f"cli:{who}",
        office_code=None,
        what=what,
        instance_id=case_id,
        task_guid=None,
        method="CLI",
        path=command,
        status=status,
        ip="local",
    )
    AccessLog(engine.db).record(read)


@audit.command("verify-export")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option(
    "--public-key",
    "public_key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the office's public key (PEM); without it the export's own key is used",
)
@click.option("--json", "as_json", is_flag=True)
def audit_verify_export(file: Any, public_key: Path | None, as_json: bool) -> None:
    """Check an export without the database; exit 1 naming the first altered item."""
    from engine.audit_export import verify_export

    try:
        doc = json.load(file)
    except ValueError as exc:
        raise Problem(f"{file.name} is not JSON: {exc}") from exc
    result = verify_export(doc, public_key.read_bytes() if public_key else None)
    if as_json:
        _echo_json(result)
    elif result["ok"]:
        click.echo(
            f"ok: {result['events']} events of case {result['case']}, covered by checkpoint "
            f"{result['checkpoint']} (signature valid"
            + ("" if result["key_trusted"] else "; key taken from the export itself")
            + ")"
        )
    else:
        click.echo(f"ALTERED: {result['reason']} ({result['first_altered']})", err=True)
    sys.exit(0 if result["ok"] else 1)


@audit.command("access")
@click.option("--case", "case_id", type=click.IntRange(1, 2**63 - 1), help="one case's reads")
@click.option("--login", default=None, help="one user's reads")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True)
def audit_access(case_id: int | None, login: str | None, limit: int, as_json: bool) -> None:
    """Who read a case, when, what and from where, and who was refused it; newest first."""
    from workflows.access_log import AccessLog, AccessQuery, entry_json

    engine = _engine()
    _require_database(engine.db.url)
    query = AccessQuery(instance_id=case_id, login=login, limit=limit)
    rows = [entry_json(r) for r in AccessLog(engine.db).entries(query)]
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        answer = "REFUSED" if r["refused"] else "shown"
        click.echo(
            f"{r['at']}  {r['login']:<20} {r['what']:<10} case {r['case'] or '-'}  "
            f"{answer} {r['status']}  {r['ip']}  {r['path']}"
        )


# -- server --------------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(1, MAX_THREADS),
    help="request threads; the database pools are sized for them",
)
@click.option("--no-worker", is_flag=True, help="do not run the timer worker in this process")
def serve(host: str, port: int, threads: int, no_worker: bool) -> None:
    """Serve the web app with waitress (and, on the embedded default, the timer worker)."""
    from engine.config import MissingSecretKey
    from engine.worker import Worker
    from web.app import create_app
    from web.serving import connection_shortfall, create_server

    engine = _engine(threads=threads)  # pools sized for the threads (and the worker)
    _require_database(engine.db.url)
    _audit_settings()  # the worker inside signs checkpoints: a bad key stops serving now
    shortfall = connection_shortfall(engine.db, threads)
    if shortfall is not None:
        raise Problem(shortfall)
    try:
        app = create_app({"NADZOR_ENGINE": engine})
    except MissingSecretKey as exc:
        click.echo(f"nadzor serve: {exc}", err=True)
        sys.exit(2)
    if app.extensions.get("nadzor.secret_key_note"):
        click.echo(app.extensions["nadzor.secret_key_note"])
    try:
        server = create_server(app, host, port, threads)
    except OSError as exc:  # port taken, no permission, unknown host
        raise Problem(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): stop the program that "
            "uses it (another `nadzor serve`?) or choose another --port or --host"
        ) from exc
    if not no_worker:
        Worker(engine).start_background()
        click.echo("timer worker running in this process")
    click.echo(f"Nadzor on http://{host}:{port}")
    server.run()


# -- benchmarks ----------------------------------------------------------------------------------


@main.group()
def bench() -> None:
    """Benchmarks that print their figures as JSON."""


@bench.command("checkpoint")
@click.option("--cases", default=100000, show_default=True, type=int)
@click.option("--moved", default=100, show_default=True, type=int, help="cases moved per round")
@click.option("--rounds", default=10, show_default=True, type=int)
@click.option("--database-url", default=None, help="an empty database (default: a temp SQLite)")
@click.option("--json", "as_json", is_flag=True)
def bench_checkpoint(
    cases: int, moved: int, rounds: int, database_url: str | None, as_json: bool
) -> None:
    """Time and size of an audit checkpoint with CASES stored cases, MOVED of them stepping."""
    from engine.bench_checkpoint import run_checkpoint_bench

    result = run_checkpoint_bench(cases, moved=moved, rounds=rounds, database_url=database_url)
    if as_json:
        _echo_json(result)
    else:
        for key, value in result.items():
            click.echo(f"{key:>28}: {value}")


@bench.command("engine")
@click.option("-n", "--instances", default=1000, show_default=True, type=int)
@click.option(
    "--scale-instances",
    default=50000,
    show_default=True,
    type=int,
    help="stored instances for the step-cost-vs-size check (0 to skip)",
)
@click.option("--json", "as_json", is_flag=True)
def bench_engine(instances: int, scale_instances: int, as_json: bool) -> None:
    """Library in memory vs stock round trip vs our persisted step (one workload)."""
    from engine.bench import run_engine_bench

    result = run_engine_bench(instances, scale_instances=scale_instances)
    if as_json:
        _echo_json(result)
    else:
        for key, value in result.items():
            click.echo(f"{key:>28}: {value}")


@bench.command("api")
@click.option("-n", "--cases", default=200, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True)
def bench_api(cases: int, as_json: bool) -> None:
    """Production server + one keep-alive HTTP client: start cases, complete every task."""
    from web.bench_api import run_api_bench

    result = run_api_bench(cases)
    if as_json:
        _echo_json(result)
    else:
        for key, value in result.items():
            click.echo(f"{key:>20}: {value}")


@bench.command("queue")
@click.option("-n", "--cases", default=100_000, show_default=True, type=int, help="open cases")
@click.option("--repeat", default=30, show_default=True, type=int, help="timed requests per page")
@click.option(
    "--database-url",
    default=None,
    help="a fresh database to fill (default: a SQLite file in a temporary folder)",
)
@click.option("--json", "as_json", is_flag=True)
def bench_queue(cases: int, repeat: int, database_url: str | None, as_json: bool) -> None:
    """Queue pages over N open cases: milliseconds per page, workflow restores (must be 0)."""
    from web.bench_queue import format_table, run_queue_bench

    result = run_queue_bench(cases, repeat, database_url)
    if as_json:
        _echo_json(result)
    else:
        for line in format_table(result):
            click.echo(line)


@bench.command("indicators")
@click.option("-n", "--cases", default=100_000, show_default=True, type=int, help="stored cases")
@click.option("--repeat", default=30, show_default=True, type=int, help="timed computations")
@click.option(
    "--database-url",
    default=None,
    help="a fresh database to fill (default: a SQLite file in a temporary folder)",
)
@click.option("--json", "as_json", is_flag=True)
def bench_indicators(cases: int, repeat: int, database_url: str | None, as_json: bool) -> None:
    """A region's quarter of supervision indicators over N cases: p50 / p95 milliseconds."""
    from web.bench_indicators import run_indicators_bench

    result = run_indicators_bench(cases, repeat, database_url)
    if as_json:
        _echo_json(result)
    else:
        for key, value in result.items():
            click.echo(f"{key:>24}: {value}")


@bench.command("audit")
@click.option("-n", "--cases", default=100_000, show_default=True, type=int, help="stored cases")
@click.option("--repeat", default=30, show_default=True, type=int, help="timed requests per shape")
@click.option(
    "--database-url",
    default=None,
    help="a fresh database to fill (default: a SQLite file in a temporary folder)",
)
@click.option("--json", "as_json", is_flag=True)
def bench_audit(cases: int, repeat: int, database_url: str | None, as_json: bool) -> None:
    """Auditors' search over N cases and 10 history events a case: p95 per query shape."""
    from web.bench_audit import run_audit_bench

    result = run_audit_bench(cases, repeat, database_url)
    if as_json:
        _echo_json(result)
        return
    for name, shape in result["shapes"].items():
        click.echo(f"{name:<20} p50 {shape['p50_ms']:>8.2f} ms  p95 {shape['p95_ms']:>8.2f} ms")
    for key, value in result.items():
        if key not in ("shapes", "p95_ms"):
            click.echo(f"{key:>20}: {value}")


def run() -> None:
    try:
        main()
    except EngineError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    run()
