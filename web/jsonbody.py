"""Reading a JSON request body so that no body can make the server fail.

What cannot be read as JSON text is the client's error (400) with words saying what is wrong:
bytes that are not UTF-8, broken syntax, nesting too deep for the parser (a RecursionError, not
a 500), numbers too long to convert, and lone surrogates (`"\\ud800"` is not a character, and
no database can store it). What does parse - NaN, NUL characters, deep-but-parsable nesting -
is judged by the rules of the data itself (engine/data.py), which name the field.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: a \\uD800-\\uDFFF escape somewhere in the text: only then is the parsed value searched
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class BadJson(ValueError):
    """The body is not JSON text; the message is the API's `detail`."""


def parse_json(raw: bytes) -> Any:
    """The parsed body; raises BadJson with a complete message when it cannot be read."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadJson(f"the body is not UTF-8 text (byte {exc.start} is not valid)") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise BadJson("the JSON is nested too deeply to be read") from None
    except json.JSONDecodeError as exc:
        raise BadJson(
            f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise BadJson(f"the body is not valid JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(text) and _holds_lone_surrogate(value):
        raise BadJson(
            "the JSON holds a lone surrogate escape (\\ud800-\\udfff without its pair), "
            "which is not a character; send valid Unicode text"
        )
    return value


def _holds_lone_surrogate(value: Any) -> bool:
    """Searched without recursion: the value may be nested as deep as the parser allows."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
