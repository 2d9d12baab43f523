"""Where a user task comes from and by when it is due, in the user's language.

A model names on each user task the paragraphs of Instruction 104 it comes from
(`spiffworkflow:property name="basis" value="11.3, 10.7"`, or `value="internal"` for an
internal rule) and, when it has a deadline, the rule in words (`deadline_rule`, Russian;
`deadline_rule_kk`, `deadline_rule_en`). The properties are read from the published version's
BPMN text (never from SpiffWorkflow objects): a version never changes, so each file is parsed
once per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask_babel import gettext
from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_NS = {"bpmn": BPMN, "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
INTERNAL = "internal"


@dataclass(frozen=True)
class TaskBasis:
    """What the task page and the case page say under a task's title."""

    basis: str  # "Инструкция № 104, п. 11.3, 10.7" or "внутреннее правило"
    internal: bool
    deadline_rule: str  # "" when the task has no deadline rule


@lru_cache(maxsize=256)
def _user_tasks(xml: str) -> dict[str, dict[str, str]]:
    """User task id -> its own properties, for one BPMN text."""
    root = etree.fromstring(xml.encode("utf-8"))
    out: dict[str, dict[str, str]] = {}
    for task in root.iter(f"{{{BPMN}}}userTask"):
        found = task.findall(
            "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", _NS
        )
        out[task.get("id") or ""] = {p.get("name"): p.get("value") for p in found if p.get("value")}
    return out


def task_properties(definition: Any, task_name: str, form: str | None) -> dict[str, str]:
    """The properties of the user task `task_name` of the version: from the file of the task's
    own folder first (its form names the folder: a called procedure travels in the version
    beside the caller), else from any BPMN file of the version that defines it."""
    files: dict[str, str] = definition.files
    folder = (form or "").rpartition("/")[0]
    paths = sorted(p for p in files if p.endswith(".bpmn"))
    ordered = [p for p in paths if folder and p.startswith(folder + "/")] + paths
    for path in ordered:
        props = _user_tasks(files[path]).get(task_name)
        if props is not None:
            return props
    return {}


def basis_text(value: str | None) -> tuple[str, bool]:
    """("Инструкция № 104, п. 11.3, 10.7", False), ("внутреннее правило", True), ("", False)."""
    value = (value or "").strip()
    if not value:
        return "", False
    if value.lower() == INTERNAL:
        return gettext("internal rule"), True
    paragraphs = ", ".join(p.strip() for p in value.split(",") if p.strip())
    return gettext("Instruction No. 104, ¶ %(paragraphs)s", paragraphs=paragraphs), False


def task_basis(definition: Any, task: Any, locale: str) -> TaskBasis | None:
    """The task's basis and deadline rule in `locale`; None when the model names neither."""
    props = task_properties(definition, task.task_name, task.form)
    text, internal = basis_text(props.get("basis"))
    rule = props.get(f"deadline_rule_{locale}") or props.get("deadline_rule") or ""
    if locale == "ru":
        rule = props.get("deadline_rule") or ""
    if not text and not rule:
        return None
    return TaskBasis(text, internal, rule)
