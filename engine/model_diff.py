"""What changed between two file sets of a procedure (two published versions, or a version and a
draft): BPMN elements matched by id, form fields matched by key, decision rules matched by id.

A methodologist reviewing a new version asks "what did they change?", and the answer must name
the timer that now says 48 h instead of 24 h, the condition that was rewritten, the field that
became required, the decision rule whose output flipped. Positions on the drawing (BPMN DI) are
not a change of the procedure and are ignored. Every value is a readable string: a flow is named
by its name or "source → target", a lane by its name, a referenced element by its name.

Pure Python over lxml (XML parsed by engine/safety/xmlparse.parse_xml, so a hostile file is
refused the same way as everywhere else). The result is the JSON printed by
`nadzor definitions diff … --json` and drawn by the Procedures pages:

    {"files": [{"file", "change"}],
     "elements": [{"file", "element_id", "name", "names", "type", "change", "properties"}],
     "forms": [{"file", "field", "change", "properties"}],
     "decisions": [{"file", "decision_id", "rule", "change", "properties"}]}

with `change` one of "added", "removed", "changed" and `properties` a list of
`{"property", "before", "after"}` (for an added thing: before is None; removed: after is None).
`names` gives an element's name per locale (ru from `name`, kk/en from its name_kk / name_en
properties) so a page shows it in the reader's language.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from lxml import etree

from .errors import ModelError
from .safety.xmlparse import parse_xml

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
MODEL_SUFFIXES = (".bpmn", ".dmn", ".form.json")

#: BPMN elements that are parts of another element (its properties), not elements of their own
PART_TAGS = {
    "definitions",
    "laneSet",
    "conditionExpression",
    "timeDuration",
    "timeDate",
    "timeCycle",
    "script",
    "documentation",
    "extensionElements",
    "incoming",
    "outgoing",
    "flowNodeRef",
    "text",
    "multiInstanceLoopCharacteristics",
    "standardLoopCharacteristics",
    "loopCardinality",
    "completionCondition",
    "ioSpecification",
    "dataInput",
    "dataOutput",
    "inputSet",
    "outputSet",
    "dataInputAssociation",
    "dataOutputAssociation",
    "sourceRef",
    "targetRef",
    "property",
}
#: spiffworkflow extension elements read as named properties (the rest: by their local name)
SPIFF_SCRIPTS = {"preScript": "pre_script", "postScript": "post_script"}
#: the property under which the engine reads a task's form
FORM_PROPERTIES = ("formJsonSchemaFilename", "form")
TIMERS = {"timeDuration": "timer_duration", "timeDate": "timer_date", "timeCycle": "timer_cycle"}
#: form-js component keys compared, in the order listed
FORM_KEYS = ("label", "type", "description", "validate", "values", "conditional", "properties")

Change = dict[str, Any]
#: a property's value: (what is compared, what is shown)
Value = tuple[Any, str]


def diff_files(a: dict[str, str], b: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Changes from file set `a` (before) to `b` (after), keyed by file name (`folder/name`).

    A file in one set only is listed in "files" and all its content is added or removed."""
    result: dict[str, list[dict[str, Any]]] = {
        "files": [],
        "elements": [],
        "forms": [],
        "decisions": [],
    }
    names = [n for n in sorted(set(a) | set(b)) if n.endswith(MODEL_SUFFIXES)]
    for name in names:
        before, after = a.get(name), b.get(name)
        if before is None:
            result["files"].append({"file": name, "change": "added"})
        elif after is None:
            result["files"].append({"file": name, "change": "removed"})
        elif before == after:
            continue
        if name.endswith(".bpmn"):
            result["elements"] += _diff_bpmn(name, before, after, result["files"])
        elif name.endswith(".dmn"):
            result["decisions"] += _diff_dmn(name, before, after, result["files"])
        else:
            result["forms"] += _diff_form(name, before, after, result["files"])
    return result


def _unreadable(files: list[dict[str, Any]], name: str, exc: Exception) -> None:
    """A file that is not a readable model is one change of its own (a draft may hold one)."""
    message = exc.message if isinstance(exc, ModelError) else str(exc)
    files.append({"file": name, "change": "unreadable", "error": message})


def _tree(text: str | None, name: str) -> etree._ElementTree | None:
    return None if text is None else parse_xml(text.encode("utf-8"), name)


def _props(changes: Iterable[tuple[str, Value | None, Value | None]]) -> list[dict[str, Any]]:
    out = []
    for prop, before, after in changes:
        if (before[0] if before else None) == (after[0] if after else None):
            continue
        out.append(
            {
                "property": prop,
                "before": before[1] if before else None,
                "after": after[1] if after else None,
            }
        )
    return out


def _compare(
    before: dict[str, Value] | None, after: dict[str, Value] | None
) -> tuple[str | None, list[dict[str, Any]]]:
    """(change, properties) between two property maps (None: the thing is absent there)."""
    if before is None and after is None:
        return None, []
    old, new = before or {}, after or {}
    keys = list(old) + [k for k in new if k not in old]
    props = _props((k, old.get(k), new.get(k)) for k in keys)
    if before is None:
        return "added", props
    if after is None:
        return "removed", props
    return ("changed" if props else None), props


# -- BPMN -----------------------------------------------------------------------------------------


def _local(element: Any) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _text(element: Any) -> str:
    return (element.text or "").strip() if element is not None else ""


def _spiff_properties(element: Any) -> dict[str, str]:
    """The element's own spiffworkflow:property values (not those of nested elements)."""
    found = element.findall(
        f"{{{BPMN}}}extensionElements/{{{SPIFF}}}properties/{{{SPIFF}}}property"
    )
    return {p.get("name"): p.get("value") or "" for p in found if p.get("name")}


class _Model:
    """One BPMN file's elements by id, with what names them and links them."""

    def __init__(self, tree: etree._ElementTree | None) -> None:
        self.elements: dict[str, Any] = {}
        self.lane_of: dict[str, str] = {}
        self.incoming: dict[str, list[str]] = {}
        self.outgoing: dict[str, list[str]] = {}
        self.names: dict[str, str] = {}  # message/signal/error ids -> names
        if tree is None:
            return
        for element in tree.getroot().iter():
            if not isinstance(element.tag, str):
                continue
            qname = etree.QName(element)
            eid = element.get("id")
            if qname.namespace != BPMN or not eid:
                continue
            local = qname.localname
            if local in ("message", "signal", "error", "escalation"):
                self.names[eid] = element.get("name") or eid
                continue
            if local in PART_TAGS or local.endswith("EventDefinition"):
                continue
            self.elements.setdefault(eid, element)
            if local == "lane":
                for ref in element.findall(f"{{{BPMN}}}flowNodeRef"):
                    self.lane_of[_text(ref)] = eid
            if local == "sequenceFlow":
                self.outgoing.setdefault(element.get("sourceRef") or "", []).append(eid)
                self.incoming.setdefault(element.get("targetRef") or "", []).append(eid)

    def name(self, eid: str | None) -> str:
        """An element as a reader knows it: its name, a flow as "source → target", else its id."""
        if not eid:
            return ""
        element = self.elements.get(eid)
        if element is None:
            return eid
        if element.get("name"):
            return element.get("name") or eid
        if _local(element) == "sequenceFlow":
            return f"{self.name(element.get('sourceRef'))} → {self.name(element.get('targetRef'))}"
        return eid

    def ref(self, eid: str | None) -> Value | None:
        return (eid, self.name(eid)) if eid else None

    def refs(self, ids: list[str]) -> Value | None:
        if not ids:
            return None
        ordered = sorted(ids)
        return (tuple(ordered), "; ".join(self.name(i) for i in ordered))

    def properties(self, eid: str) -> dict[str, Value]:
        """Everything the engine reads from the element, as readable values."""
        element = self.elements[eid]
        local = _local(element)
        out: dict[str, Value] = {"type": (local, local)}

        def put(key: str, value: str | None) -> None:
            if value:
                out[key] = (value, value)

        put("name", element.get("name"))
        put("documentation", _text(element.find(f"{{{BPMN}}}documentation")))
        if eid in self.lane_of:
            lane = self.ref(self.lane_of[eid])
            if lane:
                out["lane"] = lane
        put("script", _text(element.find(f"{{{BPMN}}}script")))
        put("condition", _text(element.find(f"{{{BPMN}}}conditionExpression")))
        put("called_element", element.get("calledElement"))
        for key, prop in (("default_flow", "default"), ("attached_to", "attachedToRef")):
            value = self.ref(element.get(prop))
            if value:
                out[key] = value
        if local == "sequenceFlow":
            for key, prop in (("source", "sourceRef"), ("target", "targetRef")):
                value = self.ref(element.get(prop))
                if value:
                    out[key] = value
        else:
            for key, ids in (
                ("incoming", self.incoming.get(eid, [])),
                ("outgoing", self.outgoing.get(eid, [])),
            ):
                value = self.refs(ids)
                if value:
                    out[key] = value
        if element.get("cancelActivity") == "false":
            put("interrupting", "false")
        for definition in element:
            kind = _local(definition)
            if not kind.endswith("EventDefinition"):
                continue
            for tag, key in TIMERS.items():
                put(key, _text(definition.find(f"{{{BPMN}}}{tag}")))
            ref = next(
                (
                    definition.get(a)
                    for a in ("messageRef", "signalRef", "errorRef")
                    if a in definition.attrib
                ),
                None,
            )
            label = kind.removesuffix("EventDefinition")
            shown = f"{label}: {self.names.get(ref, ref)}" if ref else label
            out["event"] = (shown, shown)
        loop = element.find(f"{{{BPMN}}}multiInstanceLoopCharacteristics")
        if loop is not None:
            shown = " ".join(
                part
                for part in (
                    "sequential" if loop.get("isSequential") == "true" else "parallel",
                    _text(loop.find(f"{{{BPMN}}}loopCardinality")),
                    _text(loop.find(f"{{{BPMN}}}completionCondition")),
                )
                if part
            )
            out["multi_instance"] = (shown, shown)
        extensions = element.find(f"{{{BPMN}}}extensionElements")
        if extensions is not None:
            for child in extensions:
                if not isinstance(child.tag, str) or etree.QName(child).namespace != SPIFF:
                    continue
                tag = etree.QName(child).localname
                if tag == "properties":
                    continue
                key = SPIFF_SCRIPTS.get(tag, tag)
                text = _text(child) or " ".join(f"{k}={v}" for k, v in sorted(child.items()))
                if len(child):  # nested (parameters): their attributes, one per line
                    text = "\n".join(
                        " ".join(f"{k}={v}" for k, v in sorted(c.items()))
                        for c in child
                        if isinstance(c.tag, str)
                    )
                put(key, text)
        for prop, value in _spiff_properties(element).items():
            key = "form" if prop in FORM_PROPERTIES else prop
            put(key, value)
        return out

    def names_of(self, eid: str) -> dict[str, str]:
        element = self.elements[eid]
        props = _spiff_properties(element)
        ru = props.get("name_ru") or self.name(eid)
        return {
            "ru": ru,
            "kk": props.get("name_kk") or props.get("title_kk") or ru,
            "en": props.get("name_en") or props.get("title_en") or ru,
        }


def _diff_bpmn(
    name: str, before: str | None, after: str | None, files: list[dict[str, Any]]
) -> list[Change]:
    try:
        old, new = _Model(_tree(before, name)), _Model(_tree(after, name))
    except ModelError as exc:
        _unreadable(files, name, exc)
        return []
    out = []
    order = list(new.elements) + [e for e in old.elements if e not in new.elements]
    for eid in order:
        in_old, in_new = eid in old.elements, eid in new.elements
        change, props = _compare(
            old.properties(eid) if in_old else None, new.properties(eid) if in_new else None
        )
        if change is None:
            continue
        model = new if in_new else old
        props = [p for p in props if change == "changed" or p["property"] != "type"]
        out.append(
            {
                "file": name,
                "element_id": eid,
                "name": model.name(eid),
                "names": model.names_of(eid),
                "type": _local(model.elements[eid]),
                "change": change,
                "properties": props,
            }
        )
    return out


# -- forms ----------------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _fields(components: Any, out: dict[str, dict[str, Any]], path: str = "") -> None:
    """Every component by key (nested groups too), keyless ones by id or position."""
    if not isinstance(components, list):
        return
    for index, component in enumerate(components):
        if not isinstance(component, dict):
            continue
        key = component.get("key") or component.get("id") or f"{path}#{index + 1}"
        out.setdefault(str(key), component)
        _fields(component.get("components"), out, f"{key}/")


def _field_properties(component: dict[str, Any]) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for key in FORM_KEYS:
        value = component.get(key)
        if value in (None, "", [], {}):
            continue
        if key == "values" and isinstance(value, list):
            shown = "; ".join(
                f"{v.get('value')}: {v.get('label', '')}" if isinstance(v, dict) else _shown(v)
                for v in value
            )
            out[key] = (json.dumps(value, sort_keys=True, ensure_ascii=False), shown)
        elif key == "validate" and isinstance(value, dict):
            for rule, setting in value.items():
                out[f"validate.{rule}"] = (_shown(setting), _shown(setting))
        elif key == "conditional" and isinstance(value, dict):
            for rule, setting in value.items():
                out[f"conditional.{rule}"] = (_shown(setting), _shown(setting))
        elif key == "properties" and isinstance(value, dict):
            for prop, setting in value.items():
                out[prop] = (_shown(setting), _shown(setting))
        else:
            out[key] = (_shown(value), _shown(value))
    return out


def _form_fields(text: str | None) -> dict[str, dict[str, Any]]:
    if text is None:
        return {}
    form = json.loads(text)
    out: dict[str, dict[str, Any]] = {}
    if isinstance(form, dict):
        _fields(form.get("components"), out)
    return out


def _diff_form(
    name: str, before: str | None, after: str | None, files: list[dict[str, Any]]
) -> list[Change]:
    try:
        old, new = _form_fields(before), _form_fields(after)
    except ValueError as exc:
        _unreadable(files, name, exc)
        return []
    out = []
    for key in list(new) + [k for k in old if k not in new]:
        change, props = _compare(
            _field_properties(old[key]) if key in old else None,
            _field_properties(new[key]) if key in new else None,
        )
        if change is not None:
            out.append({"file": name, "field": key, "change": change, "properties": props})
    return out


# -- DMN ------------------------------------------------------------------------------------------


def _dmn_children(element: Any, local: str) -> list[Any]:
    return [c for c in element if isinstance(c.tag, str) and etree.QName(c).localname == local]


def _column_label(column: Any) -> str:
    if column.get("label"):
        return column.get("label")
    if column.get("name"):
        return column.get("name")
    expression = next(iter(_dmn_children(column, "inputExpression")), None)
    text = next(iter(_dmn_children(expression, "text")), None) if expression is not None else None
    return _text(text) or column.get("id") or "?"


def _decisions(tree: etree._ElementTree | None) -> dict[str, dict[str, Any]]:
    """Decision id -> its name, hit policy, columns and rules (by id, else by position)."""
    out: dict[str, dict[str, Any]] = {}
    if tree is None:
        return out
    for decision in tree.getroot().iter():
        if not isinstance(decision.tag, str) or etree.QName(decision).localname != "decision":
            continue
        table = next(iter(_dmn_children(decision, "decisionTable")), None)
        info: dict[str, Any] = {"name": decision.get("name") or "", "rules": {}, "columns": {}}
        if table is not None:
            info["hit_policy"] = table.get("hitPolicy") or "UNIQUE"
            inputs = [_column_label(c) for c in _dmn_children(table, "input")]
            outputs = [_column_label(c) for c in _dmn_children(table, "output")]
            for index, column in enumerate(_dmn_children(table, "input")):
                expr = next(iter(_dmn_children(column, "inputExpression")), None)
                text = next(iter(_dmn_children(expr, "text")), None) if expr is not None else None
                info["columns"][f"input {index + 1}"] = f"{inputs[index]}: {_text(text)}"
            for index, column in enumerate(_dmn_children(table, "output")):
                info["columns"][f"output {index + 1}"] = (
                    f"{outputs[index]}: {column.get('name') or ''}"
                )
            for index, rule in enumerate(_dmn_children(table, "rule")):
                props: dict[str, Value] = {}
                desc = _text(next(iter(_dmn_children(rule, "description")), None))
                if desc:
                    props["description"] = (desc, desc)
                for kind, labels in (("inputEntry", inputs), ("outputEntry", outputs)):
                    prefix = "input" if kind == "inputEntry" else "output"
                    for pos, entry in enumerate(_dmn_children(rule, kind)):
                        label = labels[pos] if pos < len(labels) else str(pos + 1)
                        value = _text(next(iter(_dmn_children(entry, "text")), None))
                        props[f"{prefix}: {label}"] = (value, value)
                key = rule.get("id") or f"#{index + 1}"
                info["rules"][key] = {"props": props, "number": index + 1}
        out[decision.get("id") or decision.get("name") or "?"] = info
    return out


def _diff_dmn(
    name: str, before: str | None, after: str | None, files: list[dict[str, Any]]
) -> list[Change]:
    try:
        old, new = _decisions(_tree(before, name)), _decisions(_tree(after, name))
    except ModelError as exc:
        _unreadable(files, name, exc)
        return []
    out: list[Change] = []
    for did in list(new) + [d for d in old if d not in new]:
        a, b = old.get(did), new.get(did)

        def head(info: dict[str, Any] | None) -> dict[str, Value] | None:
            if info is None:
                return None
            values: dict[str, Value] = {"name": (info["name"], info["name"])}
            if "hit_policy" in info:
                values["hit_policy"] = (info["hit_policy"], info["hit_policy"])
            for column, text in info["columns"].items():
                values[column] = (text, text)
            return values

        change, props = _compare(head(a), head(b))
        if change is not None:
            out.append(
                {
                    "file": name,
                    "decision_id": did,
                    "rule": None,
                    "change": change,
                    "properties": props,
                }
            )
        old_rules, new_rules = (a or {}).get("rules", {}), (b or {}).get("rules", {})
        for rid in list(new_rules) + [r for r in old_rules if r not in new_rules]:
            change, props = _compare(
                old_rules[rid]["props"] if rid in old_rules else None,
                new_rules[rid]["props"] if rid in new_rules else None,
            )
            if change is not None:
                rule = new_rules.get(rid) or old_rules[rid]
                out.append(
                    {
                        "file": name,
                        "decision_id": did,
                        "rule": rid,
                        "number": rule["number"],
                        "change": change,
                        "properties": props,
                    }
                )
    return out


def changed_ids(diff: dict[str, Any], file: str) -> dict[str, list[str]]:
    """Element ids of one BPMN file by change, for marking a diagram: {"added", "removed",
    "changed"}."""
    out: dict[str, list[str]] = {"added": [], "removed": [], "changed": []}
    for item in diff.get("elements", []):
        if item["file"] == file:
            out[item["change"]].append(item["element_id"])
    return out


def version_files(repository: Any, process_id: str, version: int) -> dict[str, str]:
    """The files of a published version (NotFound when there is no such version)."""
    return dict(repository.get_version(process_id, version).files)


def diff_versions(repository: Any, process_id: str, a: int, b: int) -> dict[str, Any]:
    """`diff_files` of two published versions of one procedure, as `nadzor definitions diff`
    prints it: the process and both version numbers, then the changes."""
    before = version_files(repository, process_id, a)
    after = version_files(repository, process_id, b)
    return {"process_id": process_id, "version_a": a, "version_b": b, **diff_files(before, after)}
