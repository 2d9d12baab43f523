"""BPMN/DMN XML parsed without DTDs: no external entities, no network, no entity expansion.

A DOCTYPE has no business in a BPMN or DMN file, so any document that declares one is refused
outright; that stops XXE (reading local files or URLs) and "billion laughs" before they start,
whatever the installed lxml's defaults are.
"""

from __future__ import annotations

from lxml import etree

from ..errors import ModelError

MAX_MODEL_BYTES = 2_000_000


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
    )


def parse_xml(
    data: bytes, filename: str, *, max_bytes: int = MAX_MODEL_BYTES
) -> etree._ElementTree:
    if len(data) > max_bytes:
        raise ModelError(
            f"file is {len(data):,} bytes; models are limited to {max_bytes:,} bytes",
            filename=filename,
        )
    head = data[:4096].lstrip(b"\xef\xbb\xbf").lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise ModelError(
            "DOCTYPE and ENTITY declarations are not allowed in models "
            "(they enable external entities and entity expansion)",
            filename=filename,
            line=_line_of(data, b"<!"),
        )
    try:
        tree = etree.ElementTree(etree.fromstring(data, _parser()))
    except etree.XMLSyntaxError as exc:
        raise ModelError(f"malformed XML: {exc.msg}", filename=filename, line=exc.lineno) from exc
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        raise ModelError("DOCTYPE declarations are not allowed in models", filename=filename)
    return tree


def _line_of(data: bytes, needle: bytes) -> int | None:
    pos = data.find(needle)
    return data.count(b"\n", 0, pos) + 1 if pos >= 0 else None
