"""Models drawn in other BPMN tools: what they write that our engine reads differently.

Placeholder reserved for issue 9 (foreign models); the owner fills the functions in. The
repository calls them while parsing, so the signatures are fixed.
"""

from __future__ import annotations

from lxml import etree

from .errors import ModelError


def normalize_timer_literals(tree: etree._ElementTree) -> etree._ElementTree:
    """A copy of the tree for the parser in which bare ISO 8601 timer literals (`P7D`,
    `R3/PT24H`, a date) are quoted Python strings; the stored file keeps what was written."""
    return tree


def check_dialect(tree: etree._ElementTree, filename: str) -> None:
    """Refuse FEEL (`=…`) and JUEL (`${…}`) expressions, naming the element and the rewrite."""


def element_name(tree: etree._ElementTree | None, element_id: str | None) -> str | None:
    """The name an element carries in the diagram (None: none, or no such element)."""
    return None


def clean_parser_error(
    message: str, filename: str, line: int | None, element_id: str | None
) -> ModelError:
    """A parser-layer message in words: no Python repr, the type name kept, where it looked."""
    return ModelError(message, filename=filename, line=line, element_id=element_id)
