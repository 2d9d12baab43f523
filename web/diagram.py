"""The case page's diagram as a prosecutor reads it: names in the user's language, the path the
case took (elements and sequence flows, with how many times each was passed), where it waits, and
the same in words for those who cannot see the drawing.

Translations live in the model: an element's `name` is Russian; `name_kk` / `name_en` properties
(`spiffworkflow:properties`) give the other languages, and a user task's `title_<locale>` serves
when it has no `name_<locale>`. A lane's `name` is a role key the engine routes by
(`workflows/organization.py: LANES`), so a lane carries `name_ru` as well; a lane without
translations falls back to `LANE_LABELS` here. Kazakh terms follow docs/glossary.md. The
rewrite happens on the server so that the browser receives ready text, and it is cached: a
published version never changes. A model may also give `name_ru` where its Russian `name` (a
task's title in the queues) is too long for the drawing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from lxml import etree
from SpiffWorkflow.util.task import TaskState

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_NS = {"bpmn": BPMN, "spiffworkflow": SPIFF}

#: lane role keys as people call them, for lanes whose model has no name_<locale> properties
LANE_LABELS: dict[str, dict[str, str]] = {
    "district prosecutor": {
        "ru": "Районная прокуратура",
        "kk": "Аудан прокуратурасы",
        "en": "District prosecutor's office",
    },
    "district head": {
        "ru": "Руководитель районной прокуратуры",
        "kk": "Аудан прокуратурасының басшысы",
        "en": "Head of the district office",
    },
    "regional unit": {
        "ru": "Прокуратура области",
        "kk": "Облыс прокуратурасы",
        "en": "Regional prosecutor's office",
    },
    "regional head": {
        "ru": "Руководитель прокуратуры области",
        "kk": "Облыс прокуратурасының басшысы",
        "en": "Head of the regional office",
    },
    "GP unit": {
        "ru": "Генеральная прокуратура",
        "kk": "Бас прокуратура",
        "en": "General Prosecutor's Office",
    },
    "GP head": {
        "ru": "Руководитель Генеральной прокуратуры",
        "kk": "Бас прокуратура басшысы",
        "en": "Head of the General Prosecutor's Office",
    },
    "handling office": {
        "ru": "Рассматривающая прокуратура",
        "kk": "Қарайтын прокуратура",
        "en": "Handling office",
    },
    "reviewing head": {
        "ru": "Руководитель прокуратуры на маршруте",
        "kk": "Бағыттағы прокуратураның басшысы",
        "en": "Head of the office on the route",
    },
    "author": {"ru": "Автор акта", "kk": "Акт авторы", "en": "Author of the act"},
    "supervising office": {
        "ru": "Прокуратура, надзирающая за учреждением",
        "kk": "Мекемені қадағалайтын прокуратура",
        "en": "Office supervising the institution",
    },
    "prosecutor": {"ru": "Прокурор", "kk": "Прокурор", "en": "Prosecutor"},
    "head": {"ru": "Руководитель", "kk": "Басшы", "en": "Head"},
}


def _properties(element: Any) -> dict[str, str]:
    """The element's own `spiffworkflow:property` values (not those of nested elements)."""
    found = element.findall(
        "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", _NS
    )
    return {p.get("name"): p.get("value") for p in found if p.get("value")}


def element_name(element: Any, locale: str) -> str | None:
    """The element's name in `locale`: name_<locale>, a task's title_<locale>, a lane's label,
    else the model's (Russian) name."""
    name = element.get("name")
    if not name:
        return None
    props = _properties(element)
    translated = props.get(f"name_{locale}") or props.get(f"title_{locale}")
    if translated:
        return translated
    if etree.QName(element).localname == "lane":
        return LANE_LABELS.get(name, {}).get(locale) or LANE_LABELS.get(name, {}).get("ru") or name
    return name


@lru_cache(maxsize=64)
def localized_diagram(xml: str, locale: str) -> str:
    """The model's XML with every name in `locale`. Keyed by the text itself: one entry per
    published version and language (the repository hands out the same frozen text)."""
    root = etree.fromstring(xml.encode("utf-8"))
    for element in root.iter(f"{{{BPMN}}}*"):
        name = element_name(element, locale)
        if name is not None:
            element.set("name", name)
    return etree.tostring(root, encoding="unicode")


@lru_cache(maxsize=64)
def model_index(xml: str) -> tuple[dict[tuple[str, str], str], dict[str, Any]]:
    """(source id, target id) -> sequence flow id, and element id -> element."""
    root = etree.fromstring(xml.encode("utf-8"))
    flows = {
        (f.get("sourceRef"), f.get("targetRef")): f.get("id")
        for f in root.iter(f"{{{BPMN}}}sequenceFlow")
    }
    elements = {e.get("id"): e for e in root.iter(f"{{{BPMN}}}*") if e.get("id")}
    return flows, elements


@dataclass
class PathTaken:
    """What the case did, by BPMN id: completed elements in the order first completed, every
    completion in time order, how many times each element and flow was passed, and the elements
    where it waits now."""

    order: list[str] = field(default_factory=list)
    sequence: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    flows: dict[str, int] = field(default_factory=dict)
    waiting: list[str] = field(default_factory=list)


_OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def _bpmn_parent(task: Any) -> Any:
    """The nearest ancestor that is a drawn BPMN element (skips the engine's helper specs)."""
    parent = task.parent
    while parent is not None and not _drawn(parent):
        parent = parent.parent
    return parent


def _drawn(task: Any) -> bool:
    spec = task.task_spec
    return bool(getattr(spec, "bpmn_id", None)) and type(spec).__name__ != "_BoundaryEventParent"


def path_taken(workflow: Any, xml: str) -> PathTaken:
    """Read the top-level task tree: a loop makes new tasks, so a completed task is one pass.

    A flow is taken when its target was reached (completed or open now) from its source; boundary
    timers that still wait are not where the case waits."""
    flows, elements = model_index(xml)
    result = PathTaken()
    tasks = [t for t in workflow.get_tasks(skip_subprocesses=True) if _drawn(t)]
    reached = [t for t in tasks if t.state == TaskState.COMPLETED or t.state & _OPEN]
    for task in sorted(reached, key=lambda t: t.last_state_change):
        bpmn_id = task.task_spec.bpmn_id
        if bpmn_id not in elements:
            continue
        kind = etree.QName(elements[bpmn_id]).localname
        if task.state == TaskState.COMPLETED:
            result.counts[bpmn_id] = result.counts.get(bpmn_id, 0) + 1
            result.sequence.append(bpmn_id)
            if bpmn_id not in result.order:
                result.order.append(bpmn_id)
        elif kind == "boundaryEvent":
            continue
        elif bpmn_id not in result.waiting:
            result.waiting.append(bpmn_id)
        source = _bpmn_parent(task)
        if source is not None and source.state == TaskState.COMPLETED:
            flow = flows.get((source.task_spec.bpmn_id, bpmn_id))
            if flow is not None:
                result.flows[flow] = result.flows.get(flow, 0) + 1
    return result


def _is_gateway(element: Any) -> bool:
    return element is not None and etree.QName(element).localname.endswith("Gateway")


def described_steps(path: PathTaken, xml: str, locale: str) -> tuple[list[str], list[str]]:
    """The named steps of the path in the order they were done (a step done twice is named
    twice) and the waiting ones, in `locale`: the diagram's text alternative. Gateways are left
    out: a question, not a step; its answer is the step that follows."""
    _, elements = model_index(xml)

    def label(bpmn_id: str) -> str | None:
        element = elements.get(bpmn_id)
        return None if element is None else element_name(element, locale)

    steps = []
    for bpmn_id in path.sequence:
        name = None if _is_gateway(elements.get(bpmn_id)) else label(bpmn_id)
        if name:
            steps.append(name)
    waiting = [name for name in (label(i) for i in path.waiting) if name]
    return steps, waiting
