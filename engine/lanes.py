"""Every task a person does must sit in a lane the organization can resolve: checked when a
model is validated, so no door (check, try, validate, publish) lets a model through whose tasks
would reach no one.

A task's lane names who does it: the organization (`Organization.known_lanes`, the domain's
vocabulary) turns it into a role and an office. A lane it does not know ("Lane 1", "Прокурор"
from a model drawn in Camunda Modeler) or a task outside every lane of a pool with lanes would
be published, and its tasks would go to a role or office nobody holds: the cases would wait
there unseen. The organization says which lanes exist and what each means; the engine reads the
model and refuses in words. An organization that resolves any lane (the engine alone,
`LaneAsRole`) answers None and nothing is checked.

Lanes are read as SpiffWorkflow 3.2 reads them, so the check sees what the running engine will
use: each `flowNodeRef` of the document names its lane (a later reference wins, i.e. a nested
lane over its parent), and a task inside an embedded subprocess takes the subprocess's lane
when the subprocess has one.
"""

from __future__ import annotations

from collections.abc import Mapping

from lxml import etree

from .errors import ModelError

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
#: the elements that become a person's task (SpiffWorkflow marks them `manual`: a plain task
#: too), with how a message names them
HUMAN_TASKS: dict[str, str] = {"userTask": "user task", "manualTask": "manual task", "task": "task"}
#: elements whose flow nodes run inside them, taking their lane (SpiffWorkflow's subprocesses)
CONTAINERS = frozenset({"subProcess", "transaction", "adHocSubProcess"})
#: how many tasks of one lane a message lists, and how much of a drawn name it repeats
MAX_LISTED = 10
MAX_NAME = 100


def lane_problems(
    tree: etree._ElementTree, filename: str, lanes: Mapping[str, str] | None
) -> list[ModelError]:
    """The lane problems of one BPMN file, each on its element: a lane `lanes` does not name
    that holds tasks (on the lane, listing its tasks), a task outside every lane of a process
    that has lanes (on the task). `lanes`: lane name -> what it means to a person; None: any
    lane resolves and nothing is checked."""
    if lanes is None:
        return []
    root = tree.getroot()
    lane_of: dict[str, etree._Element] = {}
    for ref in root.iter(f"{{{BPMN_NS}}}flowNodeRef"):
        parent = ref.getparent()
        if ref.text is not None and parent is not None:
            lane_of[ref.text] = parent  # as SpiffWorkflow: the text as written, the last wins
    problems: list[ModelError] = []
    unknown: dict[etree._Element, list[etree._Element]] = {}
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        if process.get("isExecutable", "false") != "true":
            continue  # a pool drawn for another party: nothing of it runs here
        has_lanes = any(True for _ in process.iterfind(f"{{{BPMN_NS}}}laneSet/{{{BPMN_NS}}}lane"))
        for task, lane in _human_tasks(process, None, lane_of):
            if lane is None:
                if has_lanes:
                    problems.append(_outside_lanes(task, process, filename, lanes))
            elif (lane.get("name") or "") not in lanes:
                unknown.setdefault(lane, []).append(task)
    for lane, tasks in unknown.items():
        problems.append(_unknown_lane(lane, tasks, filename, lanes))
    problems.sort(key=lambda p: p.line or 0)
    return problems


def _human_tasks(
    container: etree._Element, inherited: etree._Element | None, lane_of: dict[str, etree._Element]
) -> list[tuple[etree._Element, etree._Element | None]]:
    """Each person's task in `container` (nested subprocesses too) with the lane it runs in."""
    found: list[tuple[etree._Element, etree._Element | None]] = []
    for child in container:
        if not isinstance(child.tag, str):
            continue
        local = etree.QName(child).localname
        lane = inherited if inherited is not None else lane_of.get(child.get("id") or "")
        if local in HUMAN_TASKS:
            found.append((child, lane))
        elif local in CONTAINERS:
            found.extend(_human_tasks(child, lane, lane_of))
    return found


def _shown(text: str | None) -> str:
    """A drawn name as a message repeats it: bounded, on one line."""
    words = " ".join((text or "").split())
    return words if len(words) <= MAX_NAME else words[: MAX_NAME - 1] + "…"


def _task_words(tasks: list[etree._Element]) -> str:
    kinds = {HUMAN_TASKS[etree.QName(t).localname] for t in tasks}
    kind = kinds.pop() if len(kinds) == 1 else "task"
    named = [
        f"'{_shown(t.get('name'))}' ({t.get('id')})" if t.get("name") else f"'{t.get('id')}'"
        for t in tasks[:MAX_LISTED]
    ]
    more = f" and {len(tasks) - MAX_LISTED} more" if len(tasks) > MAX_LISTED else ""
    return f"the {kind}{'s' if len(tasks) > 1 else ''} {', '.join(named)}{more}"


def _listing(lanes: Mapping[str, str]) -> str:
    return "; ".join(f"'{name}' ({meaning})" for name, meaning in lanes.items())


def _unknown_lane(
    lane: etree._Element, tasks: list[etree._Element], filename: str, lanes: Mapping[str, str]
) -> ModelError:
    name = lane.get("name") or ""
    what = _task_words(tasks)
    if name.strip():
        said = (
            f"lane '{_shown(name)}' holds {what}, but the organization has no lane of that name: "
        )
    else:
        said = f"a lane without a name holds {what}: "
    return ModelError(
        said + "their tasks would go to a role and an office nobody holds, and the cases would "
        f"wait there unseen. The lanes a task can be in: {_listing(lanes)}. Give the lane one of "
        "these names exactly (the lane's Name is the key the engine routes by; its name for "
        "people goes in name_ru, name_kk, name_en) or move the tasks into such a lane.",
        filename=filename,
        line=lane.sourceline,
        element_id=lane.get("id"),
        element_name=_shown(name) or None,
    )


def _outside_lanes(
    task: etree._Element, process: etree._Element, filename: str, lanes: Mapping[str, str]
) -> ModelError:
    label = _shown(process.get("name")) or process.get("id")
    return ModelError(
        f"the {HUMAN_TASKS[etree.QName(task).localname]} lies outside every lane of process "
        f"'{label}', which has lanes: a task in no lane goes to no role, and nobody's queue "
        "would show it. Move it into the lane of the role that does it; the lanes a task can "
        f"be in: {_listing(lanes)}.",
        filename=filename,
        line=task.sourceline,
        element_id=task.get("id"),
        element_name=_shown(task.get("name")) or None,
    )
