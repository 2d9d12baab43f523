"""A task's lane must be one the organization resolves: a lane drawn elsewhere ("Прокурор",
"Lane 1") or a task outside every lane of a pool with lanes would send its tasks to a role and
office nobody holds. The rule is the domain's vocabulary (workflows/organization.py
`known_lanes`) enforced by the engine when a model is validated (engine/lanes.py), so every door
refuses it in the same words: Check (engine and the draft page), validate, try, publish (CLI
and the draft page); nothing is published."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engine.engine import Engine
from engine.errors import ModelError
from engine.lanes import lane_problems
from engine.safety.xmlparse import parse_xml
from tests.conftest import BENCH_MODEL, BPMN_DIR, ROOT
from tests.test_drafts import MAIN, METHODOLOGIST, client_of, definitions, json_headers
from web.app import create_app
from web.cli import main
from workflows.organization import LANE_MEANINGS, LANES

PENALTY = BPMN_DIR / "penalty_room_check" / "penalty_room_check.bpmn"
PROCEDURES = sorted(p.name for p in BPMN_DIR.iterdir() if (p / f"{p.name}.bpmn").is_file())
RENAMED = ('<bpmn:lane id="lane_supervising" name="supervising office">',
           '<bpmn:lane id="lane_supervising" name="Прокурор">')  # fmt: skip
OUTSIDE = ("<bpmn:flowNodeRef>placement_check</bpmn:flowNodeRef>", "")
RAW = re.compile(r"<[^<>]* at 0x|\{http|Traceback|Error\(")


def penalty_text(edit: tuple[str, str]) -> str:
    text = PENALTY.read_text(encoding="utf-8")
    assert edit[0] in text
    return text.replace(edit[0], edit[1])


def penalty_copy(tmp_path: Path, edit: tuple[str, str]) -> Path:
    """The penalty-room check's folder (forms too) where a methodologist edited its model."""
    folder = tmp_path / "penalty_room_check"
    shutil.copytree(PENALTY.parent, folder)
    (folder / PENALTY.name).write_text(penalty_text(edit), encoding="utf-8")
    return folder / PENALTY.name


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def assert_unknown_lane(message: str) -> None:
    """What a methodologist must read: the lane, its tasks, the lanes that exist with their
    Russian meaning, and what to do; no engine data."""
    assert "lane 'Прокурор'" in message, message
    assert "'Проверить законность водворения и условия содержания' (placement_check)" in message
    assert "'Подготовить акт реагирования' (response_act)" in message
    assert "nobody holds" in message
    assert f"'supervising office' ({LANE_MEANINGS['supervising office']})" in message
    assert "'district prosecutor' (прокурор районной прокуратуры дела)" in message
    assert "Give the lane one of these names" in message
    assert not RAW.search(message), message


@pytest.fixture
def cli(domain_engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """`nadzor` over the test database (the demo organization, with its methodologists)."""
    monkeypatch.setenv("NADZOR_DATABASE_URL", database_url)
    monkeypatch.setenv("NADZOR_BPMN_DIR", str(BPMN_DIR))
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> dict[str, Any]:
        result = runner.invoke(main, [*args, "--json"], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return json.loads(result.stdout)

    return invoke


# -- the rule ---------------------------------------------------------------------------------


def test_the_domain_names_a_meaning_for_every_lane_it_resolves(domain_engine: Engine) -> None:
    assert set(LANE_MEANINGS) == set(LANES)
    assert domain_engine.organization.known_lanes() == LANE_MEANINGS


@pytest.mark.parametrize("name", PROCEDURES)
def test_our_procedures_pass(domain_engine: Engine, name: str) -> None:
    path = BPMN_DIR / name / f"{name}.bpmn"
    files, main_key = domain_engine.repository.read_folder(path)
    assert domain_engine.repository.check_files(files, main_key) == []
    assert domain_engine.repository.parse_file(path).process_id == name


def test_our_eight_procedures_are_all_there() -> None:
    assert len(PROCEDURES) == 8


@pytest.mark.parametrize(
    "path",
    [BENCH_MODEL, ROOT / "engine" / "benchdata" / "api" / "three_tasks.bpmn"],
    ids=["penalty_check", "three_tasks"],
)
def test_the_engine_benchmark_models_pass_with_the_domain(
    domain_engine: Engine, path: Path
) -> None:
    """The benchmarks run the application's engine: a lane named "prosecutor" is the role's
    lane in the district office, as it always resolved."""
    domain_engine.repository.parse_file(path)


def test_the_engine_alone_resolves_any_lane(engine: Engine, tmp_path: Path) -> None:
    """LaneAsRole: a lane names the role, so "Прокурор" is no problem for the engine alone."""
    path = penalty_copy(tmp_path, RENAMED)
    files, main_key = engine.repository.read_folder(path)
    assert not [p for p in engine.repository.check_files(files, main_key) if "lane" in p["message"]]


# -- every door, side by side -----------------------------------------------------------------


def test_check_files_marks_the_unknown_lane_naming_its_tasks(domain_engine: Engine) -> None:
    text = penalty_text(RENAMED)
    files = {MAIN: text}
    for form in PENALTY.parent.glob("*.form.json"):
        files[f"penalty_room_check/{form.name}"] = form.read_text(encoding="utf-8")
    [problem] = domain_engine.repository.check_files(files, MAIN)
    assert problem["file"] == MAIN
    assert problem["line"] == line_of(text, 'id="lane_supervising"')
    assert (problem["element_id"], problem["element_name"]) == ("lane_supervising", "Прокурор")
    assert_unknown_lane(problem["message"])
    # the same refusal when parsing strictly (validate, try, publish go through it)
    with pytest.raises(ModelError) as refused:
        domain_engine.repository.parse_files(files, MAIN)
    assert refused.value.element_id == "lane_supervising"
    assert domain_engine.repository.list() == []


def test_the_cli_validate_try_and_publish_refuse_it_alike(
    cli, domain_engine: Engine, tmp_path: Path
) -> None:
    path = penalty_copy(tmp_path, RENAMED)
    line = line_of(path.read_text(encoding="utf-8"), 'id="lane_supervising"')
    validated = cli("definitions", "validate", str(path), code=1)
    tried = cli("definitions", "try", str(path), "--data", "{}", code=1)
    published = cli(
        "definitions", "publish", str(path), "--actor", METHODOLOGIST, "--note", "lanes", code=1
    )
    for out in (validated, tried, published):
        assert out["ok"] is False
        assert out["line"] == line and out["element_id"] == "lane_supervising"
        assert out["element_name"] == "Прокурор"
        assert_unknown_lane(out["error"])
    assert tried["file"].endswith("penalty_room_check.bpmn")
    assert validated["filename"] == published["filename"] == tried["file"]
    assert domain_engine.repository.list() == []  # nothing published
    # the procedure as shipped is tried and published through the same doors
    assert cli("definitions", "validate", str(PENALTY))["ok"] is True
    out = cli("definitions", "publish", str(PENALTY), "--actor", METHODOLOGIST, "--note", "v1")
    assert out["version"] == 1


def test_a_task_outside_every_lane_is_refused_at_every_door(
    cli, domain_engine: Engine, tmp_path: Path
) -> None:
    path = penalty_copy(tmp_path, OUTSIDE)
    line = line_of(path.read_text(encoding="utf-8"), '<bpmn:userTask id="placement_check"')
    files, main_key = domain_engine.repository.read_folder(path)
    [problem] = domain_engine.repository.check_files(files, main_key)
    tried = cli("definitions", "try", str(path), "--data", "{}", code=1)
    published = cli(
        "definitions", "publish", str(path), "--actor", METHODOLOGIST, "--note", "lanes", code=1
    )
    for message, element, at in (
        (problem["message"], problem["element_id"], problem["line"]),
        (tried["error"], tried["element_id"], tried["line"]),
        (published["error"], published["element_id"], published["line"]),
    ):
        assert (element, at) == ("placement_check", line)
        assert "outside every lane" in message and "nobody's queue" in message, message
        assert "Move it into the lane of the role that does it" in message
        assert f"'regional unit' ({LANE_MEANINGS['regional unit']})" in message
        assert not RAW.search(message)
    assert problem["element_name"] == "Проверить законность водворения и условия содержания"
    assert domain_engine.repository.list() == []


def test_the_draft_page_checks_and_refuses_to_publish_it(domain_engine: Engine, clock) -> None:  # type: ignore[no-untyped-def]
    domain_engine.repository.publish(PENALTY, now=clock.now())
    app = create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True})
    client, token = client_of(app, METHODOLOGIST)
    answer = client.post("/procedures/penalty_room_check/v1/draft", data={"csrf_token": token})
    draft_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    text = penalty_text(RENAMED)
    saved = client.put(
        f"/procedures/drafts/{draft_id}/files",
        json={"name": MAIN, "content": text, "revision": 1},
        headers=json_headers(token),
    )
    assert saved.status_code == 200
    checked = client.post(
        f"/procedures/drafts/{draft_id}/check", json={}, headers=json_headers(token)
    ).get_json()
    assert checked["ok"] is False
    [problem] = checked["problems"]
    assert problem["element_id"] == "lane_supervising"  # the editor marks the lane
    assert problem["line"] == line_of(text, 'id="lane_supervising"')
    assert_unknown_lane(problem["message"])
    assert "«Прокурор»" in problem["text"]
    refused = client.post(
        f"/procedures/drafts/{draft_id}/publish",
        json={"note": "lanes", "revision": 2},
        headers=json_headers(token),
    )
    assert refused.status_code == 422
    assert [p["element_id"] for p in refused.get_json()["problems"]] == ["lane_supervising"]
    assert definitions(domain_engine, "penalty_room_check") == 1  # still only v1


CAMUNDA = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler">
  <bpmn:collaboration id="Collaboration_1">
    <bpmn:participant id="Participant_1" name="Проверка" processRef="drawn_lanes" />
  </bpmn:collaboration>
  <bpmn:process id="drawn_lanes" name="Drawn lanes" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_1" name="Lane 1">
        <bpmn:flowNodeRef>StartEvent_1</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Activity_a</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Sub_1</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="Lane_2" name="district head">
        <bpmn:flowNodeRef>Activity_script</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>End_1</bpmn:flowNodeRef>
        <bpmn:childLaneSet id="LaneSet_2">
          <bpmn:lane id="Lane_3" name="Проверяющий">
            <bpmn:flowNodeRef>Activity_script</bpmn:flowNodeRef>
          </bpmn:lane>
        </bpmn:childLaneSet>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Activity_a" name="Рассмотреть">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:subProcess id="Sub_1" name="Подпроцесс">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:startEvent id="s_start"><bpmn:outgoing>s1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:manualTask id="Activity_inner" name="Подписать">
        <bpmn:incoming>s1</bpmn:incoming><bpmn:outgoing>s2</bpmn:outgoing></bpmn:manualTask>
      <bpmn:endEvent id="s_end"><bpmn:incoming>s2</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="s1" sourceRef="s_start" targetRef="Activity_inner" />
      <bpmn:sequenceFlow id="s2" sourceRef="Activity_inner" targetRef="s_end" />
    </bpmn:subProcess>
    <bpmn:scriptTask id="Activity_script" name="Записать">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="Activity_loose" name="Забытая задача" />
    <bpmn:endEvent id="End_1"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="StartEvent_1" targetRef="Activity_a" />
    <bpmn:sequenceFlow id="f2" sourceRef="Activity_a" targetRef="Sub_1" />
    <bpmn:sequenceFlow id="f3" sourceRef="Sub_1" targetRef="Activity_script" />
    <bpmn:sequenceFlow id="f4" sourceRef="Activity_script" targetRef="End_1" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_model_drawn_in_camunda_modeler_shows_each_lane_problem_on_its_element(
    domain_engine: Engine,
) -> None:
    """ "Lane 1" holds a user task and (through its subprocess) a manual task: one problem on
    the lane listing both; the task left outside the lanes: one on the task; the nested lane
    "Проверяющий" holds only a script task, which no person does: no problem."""
    problems = domain_engine.repository.check_files({"drawn.bpmn": CAMUNDA}, "drawn.bpmn")
    assert [(p["element_id"], p["line"]) for p in problems] == [
        ("Lane_1", line_of(CAMUNDA, 'id="Lane_1"')),
        ("Activity_loose", line_of(CAMUNDA, 'id="Activity_loose"')),
    ]
    lane, loose = (p["message"] for p in problems)
    assert "lane 'Lane 1' holds the tasks 'Рассмотреть' (Activity_a), 'Подписать'" in lane
    assert "outside every lane of process 'Drawn lanes'" in loose
    assert problems[1]["element_name"] == "Забытая задача"


def test_the_page_import_of_a_drawn_model_checks_with_the_same_problems(
    domain_engine: Engine,
) -> None:
    app = create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True})
    client, token = client_of(app, METHODOLOGIST)
    answer = client.post(
        "/procedures/drafts/import",
        data={"csrf_token": token, "file": (io.BytesIO(CAMUNDA.encode()), "drawn.bpmn")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 303
    draft_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    checked = client.post(
        f"/procedures/drafts/{draft_id}/check", json={}, headers=json_headers(token)
    ).get_json()
    assert [p["element_id"] for p in checked["problems"]] == ["Lane_1", "Activity_loose"]
    assert definitions(domain_engine, "drawn_lanes") == 0


def test_a_lane_without_a_name_and_long_names_are_said_bounded() -> None:
    long_name = "Л" * 5000
    xml = CAMUNDA.replace('name="Lane 1"', 'name=""').replace(
        'name="Рассмотреть"', f'name="{long_name}"'
    )
    tree = parse_xml(xml.encode(), "drawn.bpmn")
    problem = lane_problems(tree, "drawn.bpmn", LANE_MEANINGS)[0]
    assert problem.element_id == "Lane_1" and problem.element_name is None
    assert problem.message.startswith("a lane without a name holds the tasks")
    assert long_name not in problem.message and len(problem.message) < 3000
    assert lane_problems(tree, "drawn.bpmn", None) == []  # an organization resolving any lane
