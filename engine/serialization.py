"""Workflow state without its spec: specs are stored once per version, state once per case.

A stock SpiffWorkflow snapshot embeds the whole spec (more than half its size). Our converter for
`BpmnWorkflow` leaves `spec` and `subprocess_specs` out when saving and takes the cached, already
parsed spec objects when restoring, so a restore never re-builds a spec either.

Case data is plain JSON, and it stays plain: SpiffWorkflow's registry restores any dict holding
a "typename" key as the type of that name, so a value like ``{"typename": "scan"}`` in case data
would break the case at its next restore. Our registry stores such a dict wrapped
(``{"typename": "nadzor.plain", "items": {...}}``) and unwraps it on restore.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, TaskConverter
from SpiffWorkflow.bpmn.serializer.helpers.registry import DefaultRegistry
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

STATE_FORMAT = "nadzor-state-1"
PLAIN = "nadzor.plain"


class _PlainDataRegistry(DefaultRegistry):
    """A registry under which no data value can pass for a serializer type."""

    def convert(self, obj: Any) -> Any:
        # DefaultRegistry.convert and DictionaryConverter.convert in one frame (this runs for
        # every object of a workflow on every save), with the escape of "typename" dicts
        if self._encoder_mode:
            return self._convert_for_encoder(obj)
        typename = self.typenames.get(obj.__class__)
        if typename in self.convert_to_dict:
            return self.convert_to_dict[typename](obj)
        if isinstance(obj, dict):
            items = {k: self.convert(v) for k, v in self.clean(obj).items()}
            return {"typename": PLAIN, "items": items} if "typename" in obj else items
        if isinstance(obj, list | tuple | set):
            return obj.__class__([self.convert(item) for item in obj])
        return obj

    def restore(self, val: Any, **kwargs: Any) -> Any:
        if type(val) is dict and val.get("typename") == PLAIN:
            return {k: self.restore(v, **kwargs) for k, v in val["items"].items()}
        return super().restore(val, **kwargs)


class _StateOnlyWorkflowConverter(BpmnWorkflowConverter):
    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(  # type: ignore[override]
        self,
        dct: dict[str, Any],
        spec: BpmnProcessSpec,
        subprocess_specs: dict[str, BpmnProcessSpec],
    ) -> BpmnWorkflow:
        dct = dict(dct)
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        from uuid import UUID

        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dict(dct["subprocesses"]), workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _escaped(value: Any) -> Any:
    """`value` with every dict that holds a "typename" key wrapped as plain data (the same
    object when there is none, so the usual case costs one walk and no copy)."""
    if type(value) is dict:
        items = {k: _escaped(v) for k, v in value.items()}
        if "typename" in value:
            return {"typename": PLAIN, "items": items}
        if all(items[k] is value[k] for k in value):
            return value
        return items
    if type(value) is list:
        out = [_escaped(v) for v in value]
        return value if all(a is b for a, b in zip(out, value, strict=True)) else out
    return value


class _PlainTaskConverter(TaskConverter):
    """SpiffWorkflow 3 leaves task data (or its delta) to the JSON encoder, outside the
    registry: our registry's escaping is applied here."""

    def to_dict(self, task: Task) -> dict[str, Any]:
        dct = super().to_dict(task)
        if dct.get("data"):
            dct["data"] = _escaped(dct["data"])
        updates = (dct.get("delta") or {}).get("updates")
        if updates:
            dct["delta"] = {**dct["delta"], "updates": _escaped(updates)}
        return dct


class _MemoTaskConverter(_PlainTaskConverter):
    """Finished tasks do not change: their dicts are kept on the workflow between saves.

    The key holds everything the dict is made of that can still move for a finished task
    (state, the instant of its last change, its children), so a changed task is converted anew.
    """

    def to_dict(self, task: Task) -> dict[str, Any]:
        if not task.state & TaskState.FINISHED_MASK:
            return super().to_dict(task)
        memo = task.workflow.__dict__.setdefault("_nadzor_task_memo", {})
        key = (task.state, task.last_state_change, tuple(task._children))
        hit = memo.get(task.id)
        if hit is not None and hit[0] == key:
            return hit[1]
        dct = super().to_dict(task)
        memo[task.id] = (key, dct)
        return dct


def _build_registry(state_only: bool) -> Any:
    config = dict(SPIFF_CONFIG)
    config[Task] = _PlainTaskConverter
    if state_only:
        config[BpmnWorkflow] = _StateOnlyWorkflowConverter
        config[Task] = _MemoTaskConverter
    registry = BpmnWorkflowSerializer.configure(config, _PlainDataRegistry())
    registry.register(
        date,
        lambda v: {"value": v.isoformat()},
        lambda v: date.fromisoformat(v["value"]),
        typename="date",
    )
    return registry


class StateSerializer:
    """Turns a running workflow into compact JSON and back, given the version's specs."""

    def __init__(self) -> None:
        self.registry = _build_registry(state_only=True)
        self.spec_registry = _build_registry(state_only=False)

    def dumps(self, workflow: BpmnWorkflow) -> str:
        dct = self.registry.convert(workflow)
        dct["format"] = STATE_FORMAT
        return json.dumps(dct, separators=(",", ":"), ensure_ascii=False, default=_json_default)

    def loads(
        self,
        text: str,
        spec: BpmnProcessSpec,
        subprocess_specs: dict[str, BpmnProcessSpec],
    ) -> BpmnWorkflow:
        dct = json.loads(text)
        dct.pop("format", None)
        return self.registry.restore(dct, spec=spec, subprocess_specs=subprocess_specs)

    def dumps_specs(self, spec: BpmnProcessSpec, subprocess_specs: dict[str, Any]) -> str:
        return json.dumps(
            {
                "spec": self.spec_registry.convert(spec),
                "subprocess_specs": {
                    k: self.spec_registry.convert(v) for k, v in subprocess_specs.items()
                },
            },
            separators=(",", ":"),
        )

    def loads_specs(self, text: str) -> tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]:
        dct = json.loads(text)
        spec = self.spec_registry.restore(dct["spec"])
        subs = {k: self.spec_registry.restore(v) for k, v in dct["subprocess_specs"].items()}
        return spec, subs

    def convert_data(self, data: Any) -> Any:
        """Task data as plain JSON values (dates as ISO strings) for audit rows and the API."""
        return json.loads(json.dumps(data, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
