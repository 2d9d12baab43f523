"""The case diagram as a prosecutor reads it: names in the user's language (from the model),
the path with counts per element and the flows taken (web/diagram.py)."""

from __future__ import annotations

import re

from lxml import etree

from engine.engine import Engine
from tests.conftest import ROOT
from tests.test_proc_act_routing import acts, start_act  # noqa: F401 (fixture)
from web.cases_ui import _main_bpmn
from web.diagram import BPMN, described_steps, localized_diagram, path_taken

MODELS = sorted((ROOT / "bpmn").glob("*/*.bpmn"))


def names(xml: str) -> dict[str, str]:
    root = etree.fromstring(xml.encode())
    return {e.get("id"): e.get("name") for e in root.iter(f"{{{BPMN}}}*") if e.get("name")}


def drawn(xml: str) -> set[str]:
    """Ids of the elements the diagram draws (a shape or an edge in the DI)."""
    return set(re.findall(r'bpmnElement="([^"]+)"', xml))


def test_lanes_and_elements_speak_kazakh_and_english() -> None:
    xml = (ROOT / "bpmn/act_routing/act_routing.bpmn").read_text()
    kk, en, ru = (names(localized_diagram(xml, loc)) for loc in ("kk", "en", "ru"))
    assert kk["lane_reviewer"] == "Бағыттағы прокуратураның басшысы"
    assert en["lane_reviewer"] == "Head of the office on the route"
    assert ru["lane_reviewer"] == "Руководитель прокуратуры на маршруте"  # not the role key
    assert kk["act_review"] == "Актіні қарау" and en["act_review"] == "Review the act"
    assert kk["f_return"] == "пысықтауға қайтару" and en["f_refuse"] == "refuse"
    assert ru["act_review"] == "Рассмотреть акт"


def test_every_named_element_of_every_model_has_kazakh_and_english_names() -> None:
    for model in MODELS:
        xml = model.read_text()
        ru = names(localized_diagram(xml, "ru"))
        for locale in ("kk", "en"):
            other = names(localized_diagram(xml, locale))
            for element_id in drawn(xml) & set(other):
                name = other[element_id]
                assert name != ru[element_id], (model.name, locale, element_id)
                if locale == "en":
                    assert not re.search("[а-яёА-ЯЁ]", name), (model.name, element_id, name)


def test_a_review_passed_twice_counts_two_and_the_return_flow_is_taken(acts: Engine) -> None:  # noqa: F811
    case = start_act(acts, origin="ALM-TLG", level="district")
    case.review("ALM-TLG", "return", "Уточните адресата")
    case.rework()
    case.review("ALM-TLG", "forward")
    definition = acts.repository.get(acts.runtime.get(case.id).definition_id)
    xml = _main_bpmn(definition)
    path = acts.steps.inspect(case.id, lambda wf: path_taken(wf, xml))
    assert path.counts["act_review"] == 2
    assert path.counts["act_rework"] == 1
    assert path.flows["f_return"] == 1 and path.flows["f_reworked"] == 1
    assert path.flows["f_to_review"] == 2
    assert "f_refuse" not in path.flows
    assert path.waiting == ["act_dispatch"]
    assert path.flows["f_prepared"] == 1  # the flow into the open task was passed
    steps, waiting = described_steps(path, xml, "en")
    assert steps[0] == "Act prepared"
    review = steps.index("Review the act")
    assert steps[review:] == [
        "Review the act",
        "Record the decision",
        "Count the return",
        "Rework the act",
        "Review the act",
        "Record the decision",
        "Determine the sending office",
    ]
    assert waiting == ["Send the act to the addressee"]
