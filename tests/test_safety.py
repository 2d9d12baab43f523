"""Models cannot run code on the server: hostile XML, expressions and scripts are refused."""

from __future__ import annotations

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.errors import ModelError, ScriptFailed, ScriptTimeout, UnsafeCode
from engine.safety.expressions import check_expression, evaluate
from engine.safety.model_check import check_model_code
from engine.safety.script_engine import make_script_engine
from engine.safety.scripts import check_script, run_script
from engine.safety.xmlparse import parse_xml
from tests.conftest import FIXTURES as ALL_FIXTURES

FIXTURES = ALL_FIXTURES / "safety"

ATTACKS = {
    "__import__('os').system('id')": "__import__",
    "open('/etc/passwd').read()": "open",
    "().__class__.__mro__[1].__subclasses__()": "__",
    "(lambda: 1).__globals__": "__globals__",
    "eval('1')": "eval",
    "'{0.__class__}'.format(1)": "__",
    "'{0.real}'.format(1)": "format",
}


@pytest.mark.parametrize(("source", "named"), ATTACKS.items())
def test_hostile_expressions_are_refused_before_running(source: str, named: str) -> None:
    with pytest.raises(UnsafeCode) as err:
        check_expression(source)
    assert named in str(err.value)
    with pytest.raises(UnsafeCode):
        evaluate(source, {})


@pytest.mark.parametrize("source", [*ATTACKS, "import os\nos.system('id')"])
def test_hostile_scripts_are_refused_before_running(source: str) -> None:
    with pytest.raises(UnsafeCode):
        check_script(f"x = {source}" if "\n" not in source else source)


def test_an_endless_script_is_stopped() -> None:
    with pytest.raises(ScriptTimeout, match="time limit"):
        run_script("while True:\n    pass", {}, time_limit_s=0.2)


def test_scripts_and_expressions_still_do_their_job() -> None:
    data = {"a": 2, "b": 3, "items": [1, 2, 3]}
    run_script("total = a + b\nbig = [i for i in items if i > 1]", data)
    assert data["total"] == 5 and data["big"] == [2, 3]
    assert evaluate("a > 1 and name.lower() == 'x'", {"a": 2, "name": "X"}) is True
    assert evaluate('f"PT{hours}H"', {"hours": 24}) == "PT24H"
    with pytest.raises(ScriptFailed, match="missing"):
        evaluate("missing > 1", {})


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" isExecutable="true"><bpmn:documentation>&xxe;</bpmn:documentation>
  </bpmn:process></bpmn:definitions>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<lolz>&lol3;</lolz>"""


@pytest.mark.parametrize("payload", [XXE, LAUGHS])
def test_entity_tricks_are_rejected_with_a_clear_error(payload: bytes) -> None:
    with pytest.raises(ModelError, match="DOCTYPE") as err:
        parse_xml(payload, "evil.bpmn")
    assert "evil.bpmn" in str(err.value)


def test_malformed_xml_names_the_line() -> None:
    with pytest.raises(ModelError, match=r"broken\.bpmn, line 3"):
        parse_xml(b"<a>\n<b>\n</a>", "broken.bpmn")


def test_oversized_model_is_refused() -> None:
    with pytest.raises(ModelError, match="limited"):
        parse_xml(b"<a>" + b" " * 100 + b"</a>", "big.bpmn", max_bytes=50)


GATEWAY = (FIXTURES / "gateway.bpmn.tmpl").read_text()


def test_an_unsafe_gateway_condition_names_file_line_and_element() -> None:
    tree = parse_xml(
        GATEWAY.replace("CONDITION", "__import__('os').system('id')").encode(), "g.bpmn"
    )
    with pytest.raises(ModelError) as err:
        check_model_code(tree, "g.bpmn")
    assert "g.bpmn, line 11, element 'f2'" in str(err.value)


DMN = (FIXTURES / "route.dmn").read_text()

RULE_TASK = (FIXTURES / "rule_task.bpmn").read_text()


def _run(bpmn: str, data: dict, dmn: str | None = None) -> dict:
    parser = SpiffBpmnParser(validator=VALIDATOR)
    tree = parse_xml(bpmn.encode(), "m.bpmn")
    check_model_code(tree, "m.bpmn")
    parser.add_bpmn_xml(tree, filename="m.bpmn")
    if dmn:
        dmn_tree = parse_xml(dmn.encode(), "m.dmn")
        check_model_code(dmn_tree, "m.dmn")
        parser.add_dmn_xml(dmn_tree.getroot(), filename="m.dmn")
    pid = parser.get_process_ids()[0]
    wf = BpmnWorkflow(
        parser.get_spec(pid), parser.get_subprocess_specs(pid), script_engine=make_script_engine()
    )
    wf.get_next_task(state=TaskState.READY).data.update(data)
    wf.do_engine_steps()
    assert wf.is_completed()
    return wf.data


def test_a_legitimate_gateway_runs_through_the_restricted_engine() -> None:
    model = GATEWAY.replace("CONDITION", "placement_lawful == False")
    assert _run(model, {"placement_lawful": False})["placement_lawful"] is False


@pytest.mark.parametrize(
    ("kind", "count", "office"), [("npm", 3, "regional"), ("pmc", 1, "district")]
)
def test_a_decision_table_runs_through_the_restricted_engine(
    kind: str, count: int, office: str
) -> None:
    assert _run(RULE_TASK, {"kind": kind, "count": count}, DMN)["office"] == office
