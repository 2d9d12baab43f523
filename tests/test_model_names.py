"""A form field must not share its name with a service task's result in the same procedure:
case data is one namespace, so whichever is written last silently replaces the other (the
region's "persons on a register" text once overwrote the pre-trial register's number)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import ROOT

SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
MODELS = sorted((ROOT / "bpmn").glob("*/*.bpmn"))


def _form_keys(component: dict) -> set[str]:
    keys = {component["key"]} if component.get("key") else set()
    for child in component.get("components", []):
        keys |= _form_keys(child)
    return keys


def _result_variables(model: Path) -> set[str]:
    root = ET.parse(model).getroot()
    return {
        op.get("resultVariable", "")
        for op in root.iter(f"{SPIFF}serviceTaskOperator")
        if op.get("resultVariable")
    }


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.parent.name)
def test_no_form_field_overwrites_a_service_result(model: Path) -> None:
    results = _result_variables(model)
    for form in model.parent.glob("*.form.json"):
        clash = _form_keys(json.loads(form.read_text())) & results
        assert not clash, f"{form.name}: {sorted(clash)} is also a service task's result"
