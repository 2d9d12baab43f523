"""engine/model_diff.py: what a methodologist reviewing a new version must see changed — a
timer's duration, a condition, a form field, a decision rule, a rename, an element added or
removed — and nothing where only the drawing moved."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.config import load_settings
from engine.model_diff import changed_ids, diff_files
from tests.conftest import BENCH_MODEL
from web.cli import main
from workflows.runtime import build_engine

BPMN_DIR = Path(__file__).resolve().parent.parent / "bpmn"

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
 xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
 xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
 xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:laneSet id="ls">
      <bpmn:lane id="lane_a" name="district prosecutor">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>check</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>gw</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
        {extra_ref}
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="Начало"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="check" name="{check_name}">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="check.form.json" />
        <spiffworkflow:property name="name_en" value="{check_en}" />
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="late" name="Срок истёк" attachedToRef="check">
      <bpmn:timerEventDefinition id="late_t">
        <bpmn:timeDuration>"{duration}"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:exclusiveGateway id="gw" name="Законно?" default="f_no" />
    <bpmn:endEvent id="end" name="Конец" />
    {extra}
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check" />
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="gw" />
    <bpmn:sequenceFlow id="f_yes" sourceRef="gw" targetRef="end">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_no" sourceRef="gw" targetRef="end" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="dia"><bpmndi:BPMNPlane id="pl" bpmnElement="p">
    <bpmndi:BPMNShape id="check_di" bpmnElement="check">
      <dc:Bounds x="{x}" y="100" width="100" height="80" />
    </bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
"""
BASE = {
    "check_name": "Проверить водворение",
    "check_en": "Check the placement",
    "duration": "PT24H",
    "condition": "lawful",
    "extra": "",
    "extra_ref": "",
    "x": "200",
}
FORM = {
    "components": [
        {"key": "lawful", "type": "checkbox", "label": "Законно"},
        {
            "key": "kind",
            "type": "select",
            "label": "Вид",
            "validate": {"required": True},
            "values": [{"value": "a", "label": "А"}, {"value": "b", "label": "Б"}],
        },
        {"key": "note", "type": "textarea", "label": "Примечание"},
    ]
}
DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="dd" name="Маршрут">
  <decision id="route" name="Маршрут">
    <decisionTable id="t" hitPolicy="{hit}">
      <input id="i1" label="Уровень">
        <inputExpression id="ie1"><text>level</text></inputExpression></input>
      <output id="o1" label="Через область" name="through_regional" />
      <rule id="r1"><inputEntry id="a1"><text>"district"</text></inputEntry>
        <outputEntry id="b1"><text>{r1_out}</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="a2"><text>"regional"</text></inputEntry>
        <outputEntry id="b2"><text>False</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>
"""


def model(form: dict | None = None, dmn: dict | None = None, **changes: str) -> dict[str, str]:
    return {
        "p/p.bpmn": BPMN.format(**{**BASE, **changes}),
        "p/check.form.json": json.dumps(form or FORM, ensure_ascii=False),
        "p/route.dmn": DMN.format(**{"hit": "UNIQUE", "r1_out": "True", **(dmn or {})}),
    }


def element(diff: dict, element_id: str) -> dict:
    found = [e for e in diff["elements"] if e["element_id"] == element_id]
    assert len(found) == 1, diff["elements"]
    return found[0]


def props(item: dict) -> dict[str, tuple]:
    return {p["property"]: (p["before"], p["after"]) for p in item["properties"]}


def test_the_same_files_and_a_moved_shape_are_no_change() -> None:
    assert diff_files(model(), model()) == {
        "files": [],
        "elements": [],
        "forms": [],
        "decisions": [],
    }
    moved = diff_files(model(), model(x="640"))
    assert moved["elements"] == [] and moved["files"] == []


def test_a_timer_duration_change_is_listed_on_its_event() -> None:
    diff = diff_files(model(), model(duration="PT48H"))
    late = element(diff, "late")
    assert late["change"] == "changed" and late["name"] == "Срок истёк"
    assert late["type"] == "boundaryEvent"
    assert props(late) == {"timer_duration": ('"PT24H"', '"PT48H"')}
    assert [e["element_id"] for e in diff["elements"]] == ["late"]


def test_a_condition_change_is_listed_on_its_flow_named_by_its_ends() -> None:
    diff = diff_files(model(), model(condition="lawful and conditions_ok"))
    flow = element(diff, "f_yes")
    assert flow["name"] == "Законно? → Конец"
    assert props(flow) == {"condition": ("lawful", "lawful and conditions_ok")}


def test_a_rename_lists_the_names_before_and_after_and_no_neighbour() -> None:
    diff = diff_files(model(), model(check_name="Проверить законность", check_en="Check it"))
    check = element(diff, "check")
    assert props(check) == {
        "name": ("Проверить водворение", "Проверить законность"),
        "name_en": ("Check the placement", "Check it"),
    }
    assert check["names"]["en"] == "Check it"
    # the flows into and out of the renamed task did not change
    assert [e["element_id"] for e in diff["elements"]] == ["check"]


def test_an_added_element_and_its_links_and_a_removed_one() -> None:
    extra = (
        '<bpmn:scriptTask id="note" name="Записать"><bpmn:script>x = 1</bpmn:script>'
        "</bpmn:scriptTask>"
    )
    after = model(extra=extra, extra_ref="<bpmn:flowNodeRef>note</bpmn:flowNodeRef>")
    diff = diff_files(model(), after)
    note = element(diff, "note")
    assert note["change"] == "added" and note["type"] == "scriptTask"
    assert props(note)["script"] == (None, "x = 1")
    assert props(note)["lane"] == (None, "district prosecutor")
    assert "type" not in props(note)  # the type is a column of its own
    back = diff_files(after, model())
    assert element(back, "note")["change"] == "removed"
    assert props(element(back, "note"))["name"] == ("Записать", None)
    assert changed_ids(back, "p/p.bpmn") == {"added": [], "removed": ["note"], "changed": []}


def test_a_form_field_change_addition_and_removal() -> None:
    form = json.loads(json.dumps(FORM))
    form["components"][1]["validate"] = {"required": False}
    form["components"][1]["values"].append({"value": "c", "label": "В"})
    form["components"][0]["label"] = "Водворение законно"
    del form["components"][2]
    form["components"].append({"key": "act", "type": "textfield", "label": "Акт"})
    diff = diff_files(model(), model(form=form))
    fields = {f["field"]: f for f in diff["forms"]}
    assert set(fields) == {"lawful", "kind", "note", "act"}
    assert fields["lawful"]["change"] == "changed"
    assert props(fields["lawful"]) == {"label": ("Законно", "Водворение законно")}
    assert props(fields["kind"]) == {
        "validate.required": ("true", "false"),
        "values": ("a: А; b: Б", "a: А; b: Б; c: В"),
    }
    assert fields["note"]["change"] == "removed"
    assert fields["act"]["change"] == "added"
    assert props(fields["act"])["label"] == (None, "Акт")
    assert all(f["file"] == "p/check.form.json" for f in diff["forms"])


def test_a_decision_rule_change_and_the_hit_policy() -> None:
    diff = diff_files(model(), model(dmn={"r1_out": "False", "hit": "FIRST"}))
    rules = {d["rule"]: d for d in diff["decisions"]}
    assert props(rules["r1"]) == {"output: Через область": ("True", "False")}
    assert rules["r1"]["number"] == 1 and rules["r1"]["decision_id"] == "route"
    assert props(rules[None]) == {"hit_policy": ("UNIQUE", "FIRST")}
    assert "r2" not in rules


def test_a_file_in_one_set_only_is_listed_with_its_content() -> None:
    before = model()
    after = {k: v for k, v in before.items() if not k.endswith(".dmn")}
    diff = diff_files(before, after)
    assert diff["files"] == [{"file": "p/route.dmn", "change": "removed"}]
    assert {d["change"] for d in diff["decisions"]} == {"removed"}
    diff = diff_files(after, before)
    assert diff["files"] == [{"file": "p/route.dmn", "change": "added"}]


def test_an_unreadable_file_is_said_not_raised() -> None:
    broken = {**model(), "p/p.bpmn": "<bpmn:definitions"}
    diff = diff_files(model(), broken)
    assert diff["files"][0]["file"] == "p/p.bpmn"
    assert diff["files"][0]["change"] == "unreadable"
    assert "malformed XML" in diff["files"][0]["error"]
    bad_form = {**model(), "p/check.form.json": "{"}
    assert diff_files(model(), bad_form)["files"][0]["change"] == "unreadable"


def test_penalty_room_check_renamed_check_and_changed_hours() -> None:
    """The issue's scenario on the real model: the check renamed, its 24 h changed."""
    folder = BPMN_DIR / "penalty_room_check"
    before = {f"penalty_room_check/{p.name}": p.read_text() for p in folder.iterdir()}
    main = "penalty_room_check/penalty_room_check.bpmn"
    after = dict(before)
    after[main] = (
        before[main]
        .replace("check_hours_near = 24\n", "check_hours_near = 12\n")
        .replace(
            'name="Проверить законность водворения и условия содержания"',
            'name="Проверить водворение (новое)"',
        )
    )
    diff = diff_files(before, after)
    assert {e["element_id"] for e in diff["elements"]} == {"parameters", "placement_check"}
    params = props(element(diff, "parameters"))["script"]
    assert "= 24" in params[0] and "= 12" in params[1]
    assert props(element(diff, "placement_check"))["name"][1] == "Проверить водворение (новое)"


def test_the_cli_prints_the_diff_of_two_published_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`nadzor definitions diff PROCESS_ID A B --json`: the same dict, both version numbers; a
    version that does not exist is said, exit 1."""
    monkeypatch.setenv("NADZOR_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("NADZOR_BPMN_DIR", str(tmp_path / "models"))
    folder = tmp_path / "models" / "bench_penalty_check"
    folder.mkdir(parents=True)
    for path in BENCH_MODEL.parent.iterdir():
        if path.is_file():
            (folder / path.name).write_bytes(path.read_bytes())
    main_file = folder / BENCH_MODEL.name
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    engine = build_engine(load_settings())
    now = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    engine.repository.publish(main_file, actor="metod_gp", now=now)
    main_file.write_text(
        main_file.read_text().replace("48 if remote else 24", "72 if remote else 24")
    )
    engine.repository.publish(main_file, actor="metod_gp", now=now)

    result = runner.invoke(main, ["definitions", "diff", "bench_penalty_check", "1", "2", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["process_id"], out["version_a"], out["version_b"]) == ("bench_penalty_check", 1, 2)
    [changed] = out["elements"]
    assert changed["element_id"] == "check_deadline" and changed["change"] == "changed"
    assert changed["properties"] == [
        {
            "property": "timer_date",
            "before": "add_hours(placed_at, 48 if remote else 24)",
            "after": "add_hours(placed_at, 72 if remote else 24)",
        }
    ]
    text = runner.invoke(main, ["definitions", "diff", "bench_penalty_check", "1", "2"]).output
    assert "24 h / 48 h passed" in text and "72 if remote" in text
    missing = runner.invoke(
        main, ["definitions", "diff", "bench_penalty_check", "1", "9", "--json"]
    )
    assert missing.exit_code == 1
    assert json.loads(missing.output)["ok"] is False
