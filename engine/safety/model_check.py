"""Check every piece of code in a model before it is published, naming file, line and element."""

from __future__ import annotations

import re
from collections.abc import Iterable

from lxml import etree

from ..calendar import DEADLINE_FUNCTIONS
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


def _dmn_entry_expression(entry: str) -> str | None:
    """What SpiffWorkflow's DMN engine evaluates for an input entry (see its DMNEngine):
    `-` or empty matches anything; `?` stands for the input; a cell that parses alone is
    compared with `==`; otherwise (`>= 5`) it is appended to the input with no space between,
    so `in ("a", "b")` would read `kindin (...)`: such cells must be written `? in ("a", "b")`."""
    if entry in ("", "-"):
        return None
    if "?" in entry:
        return _QUESTION.sub("dmninputexpr", entry)
    try:
        compile(entry, "<cell>", "eval")
        return f"(dmninputexpr) == ({entry})"
    except SyntaxError:
        return f"dmninputexpr{entry}"


def check_model_code(
    tree: etree._ElementTree, filename: str, allowed_functions: Iterable[str] = ()
) -> None:
    allowed = [*allowed_functions, *DEADLINE_FUNCTIONS]
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
        cells = (
            ("inputExpression", "DMN input expression", False),
            ("inputEntry", "DMN input entry", True),
            ("outputEntry", "DMN output entry", False),
        )
        for tag, what, is_entry in cells:
            for element in tree.iter(f"{{{ns}}}{tag}"):
                text_el = element.find(f"{{{ns}}}text")
                text = (text_el.text or "").strip() if text_el is not None else ""
                if text:
                    _check_dmn(text, text_el, filename, allowed, what, entry=is_entry)


def _check_dmn(
    text: str, element: etree._Element, filename: str, allowed: list[str], what: str, *, entry: bool
) -> None:
    try:
        expression = _dmn_entry_expression(text) if entry else text
        if expression is not None:
            check_expression(expression, allowed)
    except UnsafeCode as exc:
        if entry and text[:1].isalpha() and "?" not in text:
            hint = f"write '? {text}': SpiffWorkflow joins '{text}' to its input with no space"
            raise ModelError(
                f"{what}: {hint}",
                filename=filename,
                line=element.sourceline,
                element_id=_element_id(element),
            ) from exc
        raise _fail(exc, element, filename, what) from exc
