"""Publishing semantics (issue 9): content compared with the current version only (the way
back), the same content from any folder is the same version, a new version counts at once in
every process, only a methodologist publishes (CLI), the change note is kept in the history,
and a file set is checked in memory with every problem named on its element."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from engine.errors import InvalidOperation, ModelError
from engine.models import AuditEvent
from tests.conftest import BENCH_MODEL, BPMN_DIR, ROOT
from web.cli import main
from workflows.users import users_table

PLACED = "2026-11-24T09:30:00+05:00"
PAYLOAD = {"placed_at": PLACED, "remote": False, "convict_name": "Petrov", "office_code": "D01"}
DOMAIN_PAYLOAD = {
    "institution": "UK-161-2",
    "convict_name": "Петров",
    "remote": False,
    "placed_at": PLACED,
}
TITLE = "Check the placement"


def _changed_copy(tmp_path: Path, folder: str, old: str, new: str) -> Path:
    """The bench model with one task renamed, in a folder of another name."""
    target = tmp_path / folder
    target.mkdir(parents=True)
    for f in BENCH_MODEL.parent.iterdir():
        if f.is_file():
            shutil.copy(f, target / f.name)
    path = target / BENCH_MODEL.name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def _first_title(engine, iid: int) -> str:  # type: ignore[no-untyped-def]
    from engine.tasks import TaskQuery

    [task] = engine.tasks.list(TaskQuery(instance_id=iid))
    return task.title


def _published_events(engine) -> list[dict]:  # type: ignore[no-untyped-def]
    with engine.db.read() as conn:
        rows = conn.execute(
            select(AuditEvent.actor, AuditEvent.data_after)
            .where(AuditEvent.event_type == "definition_published")
            .order_by(AuditEvent.id)
        ).all()
    return [{"actor": actor, **data} for actor, data in rows]


# -- keys and hashes -----------------------------------------------------------------------------


def test_bpmn_procedures_keep_their_keys_and_hashes(domain_engine) -> None:
    """Canonical keys are `<process id>/<file>`; the bpmn/ folders are named like their
    processes, so every key is still the file's path under bpmn/ (the hash is unchanged)."""
    repo = domain_engine.repository
    procedures = repo.procedure_files()
    assert len(procedures) >= 8
    for path in procedures:
        model = repo.parse_file(path)
        assert model.main_file == f"{model.process_id}/{path.name}"
        assert path.parent.name == model.process_id
        for key, text in model.files.items():
            assert (BPMN_DIR / key).read_text(encoding="utf-8") == text, key


def test_same_content_from_two_folders_is_one_version(domain_engine, tmp_path: Path) -> None:
    repo, now = domain_engine.repository, domain_engine.clock.now()
    source = BPMN_DIR / "penalty_room_check"
    first, created = repo.publish(source / "penalty_room_check.bpmn", now=now)
    assert created and first.version == 1
    for name in ("elsewhere/penalty_room_check", "another/name_of_my_own"):
        copy = tmp_path / name
        shutil.copytree(source, copy)
        again, created = repo.publish(copy / "penalty_room_check.bpmn", now=now)
        assert (again.id, again.version, created) == (first.id, 1, False)
        assert again.sha256 == first.sha256
    assert sorted(first.files) == sorted(
        k for k in first.files if k.startswith(("penalty_room_check/", "act_routing/"))
    )


# -- the way back, running cases stay ----------------------------------------------------------


def test_the_way_back_is_a_new_version_and_running_cases_stay(engine, tmp_path: Path) -> None:
    repo, now = engine.repository, engine.clock.now()
    v1, _ = repo.publish(BENCH_MODEL, actor="m1", note="first", now=now)
    on_v1 = engine.runtime.start("bench_penalty_check", PAYLOAD, actor="ivanov")
    changed = _changed_copy(tmp_path, "v2", TITLE, "Check the placement (v2)")
    v2, created = repo.publish(changed, actor="m1", note="renamed the check", now=now)
    assert created and v2.version == 2
    on_v2 = engine.runtime.start("bench_penalty_check", PAYLOAD, actor="ivanov")

    # v1's content again: not "already published" but current again, as version 3
    back, created = repo.publish(
        BENCH_MODEL, actor="m2", note="back to v1", legal_basis="¶13.2", now=now
    )
    assert created and back.version == 3 and back.sha256 == v1.sha256 and back.id != v1.id
    assert (back.note, back.legal_basis, back.published_by) == ("back to v1", "¶13.2", "m2")
    # and once it is current, the same content changes nothing
    again, created = repo.publish(BENCH_MODEL, actor="m2", note="again", now=now)
    assert (again.id, created) == (back.id, False)

    on_v3 = engine.runtime.start("bench_penalty_check", PAYLOAD, actor="ivanov")
    versions = {iid: engine.runtime.get(iid).version for iid in (on_v1, on_v2, on_v3)}
    assert versions == {on_v1: 1, on_v2: 2, on_v3: 3}
    assert _first_title(engine, on_v2) == "Check the placement (v2)"
    assert _first_title(engine, on_v1) == _first_title(engine, on_v3) == TITLE

    listed = repo.versions("bench_penalty_check")
    assert [(v["version"], v["running_cases"], v["note"]) for v in listed] == [
        (3, 1, "back to v1"),
        (2, 1, "renamed the check"),
        (1, 1, "first"),
    ]
    assert repo.get_version("bench_penalty_check", 2).title == v2.title
    assert engine.verify_history()["ok"] is True


def test_the_note_and_the_previous_version_are_in_the_history(engine, tmp_path: Path) -> None:
    repo, now = engine.repository, engine.clock.now()
    repo.publish(BENCH_MODEL, now=now)
    changed = _changed_copy(tmp_path, "x", TITLE, "Check it")
    loaded, _ = repo.publish_files(
        *repo.read_folder(changed),
        actor="alm.methodologist",
        note="Срок проверки — по ¶13.2",
        legal_basis="Инструкция, ¶13.2",
        now=now,
    )
    first, second = _published_events(engine)
    assert (first["note"], first["previous_version"], first["actor"]) == ("", None, "system")
    assert second["actor"] == "alm.methodologist" and second["version"] == 2
    assert second["note"] == "Срок проверки — по ¶13.2" and second["previous_version"] == 1
    assert second["legal_basis"] == "Инструкция, ¶13.2"
    reread = type(repo)(engine.db, repo.bpmn_dir, repo.serializer).get(loaded.id)
    assert (reread.note, reread.published_by, reread.main_file) == (
        "Срок проверки — по ¶13.2",
        "alm.methodologist",
        "bench_penalty_check/penalty_check.bpmn",
    )


def test_a_person_publishes_with_a_note(engine) -> None:
    files, main = engine.repository.read_folder(BENCH_MODEL)
    for note in ("", "   ", None):
        with pytest.raises(InvalidOperation, match="change note is required"):
            engine.repository.publish_files(
                files, main, actor="m", note=note, now=engine.clock.now()
            )
    with pytest.raises(InvalidOperation, match="at most"):
        engine.repository.publish_files(
            files, main, actor="m", note="x" * 5000, now=engine.clock.now()
        )
    assert engine.repository.list() == []


# -- a new version counts at once in every process ---------------------------------------------


def test_a_version_published_by_another_engine_counts_at_once(make_engine, tmp_path) -> None:
    publisher, server = make_engine(), make_engine()  # two processes' views of one database
    publisher.repository.publish(BENCH_MODEL, now=publisher.clock.now())
    first = server.runtime.start("bench_penalty_check", PAYLOAD, actor="ivanov")
    assert server.runtime.get(first).version == 1
    changed = _changed_copy(tmp_path, "v2", TITLE, "Check the placement (v2)")
    publisher.repository.publish(changed, note="v2", now=publisher.clock.now())
    second = server.runtime.start("bench_penalty_check", PAYLOAD, actor="ivanov")
    assert server.runtime.get(second).version == 2
    assert _first_title(server, second) == "Check the placement (v2)"
    # the case started before keeps running on version 1 in the server process
    assert _first_title(server, first) == TITLE


def test_two_publishers_at_the_same_moment_both_get_a_number(
    make_engine, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes publishing different edits at once: versions 2 and 3, none refused. The
    first holds its transaction open until the second has parsed its model and is about to
    write; the second then waits its turn and compares with version 2."""
    import engine.repository as repository_module

    first, second = make_engine(), make_engine()
    first.repository.publish(BENCH_MODEL, now=first.clock.now())
    edits = [
        _changed_copy(tmp_path, f"edit{n}", TITLE, f"Check the placement ({n})") for n in (1, 2)
    ]
    first_inside, second_parsed = threading.Event(), threading.Event()
    register = repository_module.register_schedules

    def register_slowly(*args, **kwargs):  # type: ignore[no-untyped-def]
        if threading.current_thread().name == "first":
            first_inside.set()
            second_parsed.wait(30)
            time.sleep(0.3)  # the second is at its transaction now
        return register(*args, **kwargs)

    monkeypatch.setattr(repository_module, "register_schedules", register_slowly)
    parse = second.repository.parse_file

    def parse_then_signal(path: Path):  # type: ignore[no-untyped-def]
        first_inside.wait(30)
        parsed = parse(path)
        second_parsed.set()
        return parsed

    monkeypatch.setattr(second.repository, "parse_file", parse_then_signal)
    results: list[tuple[int, bool]] = []
    errors: list[Exception] = []

    def publish(engine, path: Path) -> None:  # type: ignore[no-untyped-def]
        try:
            loaded, created = engine.repository.publish(path, note="edit", now=engine.clock.now())
            results.append((loaded.version, created))
        except Exception as exc:  # noqa: BLE001 - the assertion below shows it
            errors.append(exc)

    threads = [
        threading.Thread(target=publish, args=(first, edits[0]), name="first"),
        threading.Thread(target=publish, args=(second, edits[1]), name="second"),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and sorted(results) == [(2, True), (3, True)]


def _nadzor_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "NADZOR_DATABASE_URL": database_url,
        "NADZOR_BPMN_DIR": str(BPMN_DIR),
    }


def test_the_cli_in_another_process_publishes_for_a_running_engine(
    domain_engine, database_url: str, tmp_path: Path
) -> None:
    """`nadzor definitions publish` run as its own process while this engine (a server) runs:
    the next case this engine starts is on the new version, without a restart."""
    domain_engine.repository.publish(BENCH_MODEL, now=domain_engine.clock.now())
    before = domain_engine.runtime.start(
        "bench_penalty_check", DOMAIN_PAYLOAD, actor="tlg.prosecutor"
    )
    changed = _changed_copy(tmp_path, "v2", TITLE, "Check the placement (v2)")
    done = subprocess.run(
        [sys.executable, "-m", "web.cli", "definitions", "publish", str(changed)]
        + ["--actor", "gp.methodologist", "--note", "renamed the check", "--json"],
        cwd=ROOT,
        env=_nadzor_env(database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert (out["version"], out["created"], out["note"]) == (2, True, "renamed the check")
    after = domain_engine.runtime.start(
        "bench_penalty_check", DOMAIN_PAYLOAD, actor="tlg.prosecutor"
    )
    assert domain_engine.runtime.get(after).version == 2
    assert _first_title(domain_engine, after) == "Check the placement (v2)"
    assert domain_engine.runtime.get(before).version == 1
    # the history says who was named and which shell account named them
    event = _published_events(domain_engine)[-1]
    assert (event["actor"], event["note"]) == ("gp.methodologist", "renamed the check")
    assert event["origin"].startswith("cli:")


# -- the CLI: only a methodologist publishes ----------------------------------------------------


@pytest.fixture
def publish_cli(domain_engine, database_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NADZOR_DATABASE_URL", database_url)
    monkeypatch.setenv("NADZOR_BPMN_DIR", str(BPMN_DIR))

    def run(actor: str, *more: str) -> tuple[int, dict]:
        args = ["definitions", "publish", str(BENCH_MODEL), "--actor", actor, *more, "--json"]
        result = CliRunner().invoke(main, args)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, json.loads(result.output)

    return run


@pytest.mark.parametrize(
    "actor, words",
    [
        ("gp.prosecutor", "only a methodologist publishes"),
        ("gp.admin", "only a methodologist publishes"),
        ("gp.auditor", "only a methodologist publishes"),
        ("nobody.here", "user 'nobody.here' does not exist"),
        ("retired.methodologist", "deactivated"),
    ],
)
def test_the_cli_refuses_who_is_not_an_active_methodologist(
    publish_cli, domain_engine, actor: str, words: str
) -> None:
    with domain_engine.db.write() as conn:  # a methodologist who left: the account stays
        conn.execute(
            update(users_table)
            .where(users_table.c.login == "alm.methodologist")
            .values(login="retired.methodologist", active=False)
        )
    code, out = publish_cli(actor, "--note", "v1")
    assert code == 1 and out["ok"] is False and words in out["error"], out
    assert domain_engine.repository.list() == []
    code, out = publish_cli("gp.methodologist", "--note", "v1")
    assert code == 0 and out["created"] is True and out["version"] == 1
    [event] = _published_events(domain_engine)
    assert (event["actor"], event["note"]) == ("gp.methodologist", "v1")


def test_the_cli_wants_a_note(publish_cli, domain_engine) -> None:
    code, out = publish_cli("gp.methodologist", "--note", "  ")
    assert code == 1 and "--note is required" in out["error"]
    result = CliRunner().invoke(
        main, ["definitions", "publish", str(BENCH_MODEL), "--actor", "gp.methodologist"]
    )
    assert result.exit_code == 2 and "--note" in result.output
    assert domain_engine.repository.list() == []


# -- checking a file set -----------------------------------------------------------------------

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def _model(body: str, process: str = "draft_check", first: str = "choice") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="{BPMN}" id="defs" targetNamespace="http://nadzor.test">
  <bpmn:process id="{process}" name="Проверка черновика" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="to_first" sourceRef="start" targetRef="{first}" />
{body}
  </bpmn:process>
</bpmn:definitions>
"""


UNCONDITIONED = """    <bpmn:exclusiveGateway id="choice" name="Нарушение есть?" />
    <bpmn:sequenceFlow id="yes" name="да" sourceRef="choice" targetRef="end_yes">
      <bpmn:conditionExpression>breach == True</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="no" name="нет" sourceRef="choice" targetRef="end_no" />
    <bpmn:endEvent id="end_yes" />
    <bpmn:endEvent id="end_no" />"""

CALLS_MISSING = """    <bpmn:callActivity id="route" name="Направление акта"
        calledElement="no_such_procedure" />
    <bpmn:sequenceFlow id="to_end" sourceRef="route" targetRef="end" />
    <bpmn:endEvent id="end" />"""


def test_check_files_names_each_problem_on_its_element(engine) -> None:
    files = {
        "draft_check/draft_check.bpmn": _model(UNCONDITIONED),
        "draft_check/broken.form.json": "{ not json",
    }
    problems = engine.repository.check_files(files, "draft_check/draft_check.bpmn")
    by_file = {p["file"]: p for p in problems}
    assert set(by_file) == {"draft_check/draft_check.bpmn", "draft_check/broken.form.json"}
    gateway = by_file["draft_check/draft_check.bpmn"]
    assert gateway["element_id"] == "no" and gateway["element_name"] == "нет"
    assert gateway["line"] == 10
    assert "Нарушение есть?" in gateway["message"] and "default" in gateway["message"]
    assert "not valid JSON" in by_file["draft_check/broken.form.json"]["message"]
    # nothing of it is published
    with pytest.raises(ModelError) as refused:
        engine.repository.publish_files(
            files, "draft_check/draft_check.bpmn", actor="m", note="n", now=engine.clock.now()
        )
    assert refused.value.element_id in ("no", None) or refused.value.filename.endswith("json")
    assert engine.repository.list() == []


def test_a_draft_keyed_anyhow_is_stored_under_its_process(engine) -> None:
    fixed = UNCONDITIONED.replace('id="choice" name', 'id="choice" default="no" name')
    files = {"upload.bpmn": _model(fixed)}
    assert engine.repository.check_files(files, "upload.bpmn") == []
    model = engine.repository.parse_files(files, "upload.bpmn")
    assert (model.process_id, model.main_file) == ("draft_check", "draft_check/upload.bpmn")
    assert list(model.files) == ["draft_check/upload.bpmn"]


def test_a_missing_called_procedure_says_where_it_looked(engine) -> None:
    files = {"draft_check/draft_check.bpmn": _model(CALLS_MISSING, first="route")}
    [problem] = engine.repository.check_files(files, "draft_check/draft_check.bpmn")
    assert problem["file"] == "draft_check/draft_check.bpmn"
    assert (problem["element_id"], problem["element_name"]) == ("route", "Направление акта")
    assert problem["line"] in (6, 7)  # the call activity's start tag spans both
    message = problem["message"]
    assert "no_such_procedure" in message
    for where in ("this model's files", "no published version", "procedures folder"):
        assert where in message, message


def test_hostile_file_sets_are_refused_in_words(engine) -> None:
    check = engine.repository.check_files
    good = _model(UNCONDITIONED.replace('id="choice" name', 'id="choice" default="no" name'))
    assert "not a usable file name" in check({"../x.bpmn": good}, "../x.bpmn")[0]["message"]
    assert "not among" in check({"a/x.bpmn": good}, "a/y.bpmn")[0]["message"]
    assert "limited to" in check({"a/x.bpmn": good + " " * 2_100_000}, "a/x.bpmn")[0]["message"]
    assert "malformed XML" in check({"a/x.bpmn": "<bpmn:"}, "a/x.bpmn")[0]["message"]


# -- called procedures: from their latest published version, and who is frozen where ---------


def test_callers_see_when_their_copy_of_a_called_procedure_is_outdated(
    domain_engine, tmp_path: Path
) -> None:
    repo, now = domain_engine.repository, domain_engine.clock.now()
    repo.publish(BPMN_DIR / "act_routing" / "act_routing.bpmn", now=now)
    caller, _ = repo.publish(BPMN_DIR / "penalty_room_check" / "penalty_room_check.bpmn", now=now)
    [row] = repo.callers("act_routing")
    assert (row["process_id"], row["version"], row["outdated"], row["frozen_version"]) == (
        "penalty_room_check",
        1,
        False,
        1,
    )

    # act_routing v2, published from a folder of another name
    copy = tmp_path / "routing_edit"
    shutil.copytree(BPMN_DIR / "act_routing", copy)
    text = (copy / "act_routing.bpmn").read_text(encoding="utf-8")
    (copy / "act_routing.bpmn").write_text(
        text.replace("</bpmn:definitions>", "\n</bpmn:definitions>")
    )
    routing_v2, created = repo.publish(copy / "act_routing.bpmn", note="v2", now=now)
    assert created and routing_v2.version == 2
    [row] = repo.callers("act_routing")
    assert row["outdated"] is True and row["frozen_version"] == 1

    procedures = {p["process_id"]: p for p in repo.procedures()}
    assert procedures["penalty_room_check"]["calls"] == ["act_routing"]
    assert procedures["act_routing"]["latest_version"] == 2
    assert procedures["act_routing"]["callers"][0]["outdated"] is True

    # republishing the caller from disk takes act_routing as published now (v2)
    again, created = repo.publish(
        BPMN_DIR / "penalty_room_check" / "penalty_room_check.bpmn", note="new routing", now=now
    )
    assert created and again.version == 2
    assert (
        again.files["act_routing/act_routing.bpmn"]
        == routing_v2.files["act_routing/act_routing.bpmn"]
    )
    assert (
        caller.files["act_routing/act_routing.bpmn"] != again.files["act_routing/act_routing.bpmn"]
    )
    [row] = repo.callers("act_routing")
    assert (row["version"], row["outdated"], row["frozen_version"]) == (2, False, 2)
