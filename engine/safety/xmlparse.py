"""BPMN/DMN XML parsed without DTDs: no external entities, no network, no entity expansion.

A DOCTYPE has no business in a BPMN or DMN file, so any document that declares one is refused
outright; that stops XXE (reading local files or URLs) and "billion laughs" before they start,
whatever the installed lxml's defaults are.
"""

from __future__ import annotations

import re

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
            f"the file is {len(data):,} bytes; model files are limited to {max_bytes:,} "
            "bytes. Split the procedure into called processes, or remove what does not belong "
            "in a model (embedded images, pasted documents).",
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
        raise ModelError(_malformed(exc), filename=filename, line=exc.lineno) from exc
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        raise ModelError("DOCTYPE declarations are not allowed in models", filename=filename)
    return tree


def _malformed(exc: etree.XMLSyntaxError) -> str:
    """libxml2's complaint with its place said in words: "at line 2, column 9"."""
    line, column = exc.position if exc.position else (exc.lineno, None)
    said = re.sub(r",? line \d+, column \d+\s*$", "", exc.msg or "").strip()
    where = f"at line {line}, column {column}" if line and column else "in the file"
    return (
        f"malformed XML {where}: {said}. The file is not well-formed XML (a tag not closed, a "
        "quote missing, an & not written as &amp;); export it again from the modeler."
    )


def _line_of(data: bytes, needle: bytes) -> int | None:
    pos = data.find(needle)
    return data.count(b"\n", 0, pos) + 1 if pos >= 0 else None
