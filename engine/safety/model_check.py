"""Check every piece of code in a model before it is published, naming file, line and element."""

from __future__ import annotations

import re
from collections.abc import Iterable

from lxml import etree

from ..errors import ModelError, UnsafeCode
from .expressions import check_expression
from .scripts import check_script

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
)

EXPRESSION_TAGS = [
    f"{{{BPMN}}}conditionExpression",
    f"{{{BPMN}}}timeDate",
    f"{{{BPMN}}}timeDuration",
    f"{{{BPMN}}}timeCycle",
    f"{{{BPMN}}}loopCardinality",
    f"{{{BPMN}}}completionCondition",
    f"{{{BPMN}}}formalExpression",
    f"{{{SPIFF}}}messagePayload",
]
SCRIPT_TAGS = [f"{{{BPMN}}}script", f"{{{SPIFF}}}preScript", f"{{{SPIFF}}}postScript"]
_QUESTION = re.compile(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)")


def _element_id(element: etree._Element) -> str | None:
    node: etree._Element | None = element
    while node is not None:
        if node.get("id"):
            return node.get("id")
        node = node.getparent()
    return None


def _fail(exc: Exception, element: etree._Element, filename: str, what: str) -> ModelError:
    return ModelError(
        f"{what}: {exc}",
        filename=filename,
        line=element.sourceline,
        element_id=_element_id(element),
    )


def _texts(tree: etree._ElementTree, tags: Iterable[str]) -> Iterable[tuple[etree._Element, str]]:
    for tag in tags:
        for element in tree.iter(tag):
            text = (element.text or "").strip()
            if text:
                yield element, text


def _dmn_entry_expression(entry: str) -> list[str]:
    """What SpiffWorkflow's DMN engine will evaluate for an input entry (see DMNEngine)."""
    out = []
    for part in _split_entries(entry):
        if part in ("", "-"):
            continue
        if "?" in part:
            out.append(_QUESTION.sub("dmninputexpr", part))
            continue
        try:
            compile(part, "<cell>", "eval")
            out.append(f"(dmninputexpr) == ({part})")
        except SyntaxError:
            out.append(f"dmninputexpr {part}")
    return out


def _split_entries(entry: str) -> list[str]:
    """Spiff splits a cell on top-level commas outside quotes ("a", "b" means either)."""
    parts, depth, quote, current = [], 0, "", []
    for ch in entry:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return parts


def check_model_code(
    tree: etree._ElementTree, filename: str, allowed_functions: Iterable[str] = ()
) -> None:
    allowed = list(allowed_functions) + ["add_hours", "add_working_days"]
    for element, text in _texts(tree, EXPRESSION_TAGS):
        try:
            check_expression(text, allowed)
        except UnsafeCode as exc:
            raise _fail(exc, element, filename, "unsafe or invalid expression") from exc
    for element, text in _texts(tree, SCRIPT_TAGS):
        try:
            check_script(text, allowed)
        except UnsafeCode as exc:
            raise _fail(exc, element, filename, "script refused") from exc
    for element in tree.iter(f"{{{SPIFF}}}parameter"):
        value = element.get("value")
        if value:
            try:
                check_expression(value, allowed)
            except UnsafeCode as exc:
                raise _fail(exc, element, filename, "unsafe service parameter") from exc
    for ns in DMN_NAMESPACES:
        for element, text in _texts(tree, [f"{{{ns}}}inputExpression/{{{ns}}}text"]):
            _check_dmn(text, element, filename, allowed, "DMN input expression", entry=False)
        for element in tree.iter(f"{{{ns}}}inputEntry"):
            text_el = element.find(f"{{{ns}}}text")
            if text_el is not None and (text_el.text or "").strip():
                _check_dmn(
                    text_el.text.strip(), text_el, filename, allowed, "DMN input entry", entry=True
                )
        for element in tree.iter(f"{{{ns}}}outputEntry"):
            text_el = element.find(f"{{{ns}}}text")
            if text_el is not None and (text_el.text or "").strip():
                _check_dmn(
                    text_el.text.strip(),
                    text_el,
                    filename,
                    allowed,
                    "DMN output entry",
                    entry=False,
                )


def _check_dmn(
    text: str, element: etree._Element, filename: str, allowed: list[str], what: str, *, entry: bool
) -> None:
    try:
        for expression in _dmn_entry_expression(text) if entry else [text]:
            check_expression(expression, allowed)
    except UnsafeCode as exc:
        raise _fail(exc, element, filename, what) from exc
