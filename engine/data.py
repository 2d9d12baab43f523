"""Case data is plain JSON within documented limits, whoever sends it.

Start data, task completions and message payloads pass `check_data` before the engine touches a
case, so no value can break a case later: no serializer types, no values the databases refuse
(NUL, lone surrogates, NaN), nothing deep or big enough to exhaust the interpreter or the store.

Limits (README "Data limits"):

- values: strings, integers within 64-bit signed range, finite floats, true/false, null,
  lists and objects with string keys;
- nesting depth at most 32 (the top-level object is depth 1);
- at most 200 keys in an object and 1,000 items in a list;
- a string at most 20,000 characters, without NUL and without lone surrogates;
- a key at most 64 characters matching ``^[A-Za-z][A-Za-z0-9_]*$``;
- the whole value, encoded as UTF-8 JSON, at most 256 KiB.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .errors import DataRejected

MAX_DEPTH = 32
MAX_KEYS = 200
MAX_ITEMS = 1_000
MAX_STRING = 20_000
MAX_KEY = 64
MAX_BYTES = 256 * 1024
MAX_INT = 2**63 - 1

KEY_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


def _where(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _check_string(value: str, path: str) -> None:
    if len(value) > MAX_STRING:
        raise DataRejected(
            f"the text is {len(value):,} characters long; at most {MAX_STRING:,} are allowed",
            path=path,
        )
    bad = _BAD_CHARS.search(value)
    if bad is not None:
        what = "a NUL character" if bad.group() == "\x00" else "a lone surrogate"
        raise DataRejected(f"the text holds {what}, which no text may contain", path=path)


def _walk(value: Any, path: str, depth: int) -> int:
    """Checks `value`; returns an upper estimate of its encoded size in bytes."""
    kind = type(value)
    if kind is str:
        _check_string(value, path)
        return 4 * len(value) + 2
    if kind is bool or value is None:
        return 5
    if kind is int:
        if not -MAX_INT - 1 <= value <= MAX_INT:
            raise DataRejected("the number is outside the 64-bit integer range", path=path)
        return 20
    if kind is float:
        if not math.isfinite(value):
            raise DataRejected("the number is not finite (NaN or Infinity)", path=path)
        return 24
    if kind is dict or kind is list:
        if depth >= MAX_DEPTH:
            raise DataRejected(f"the data is nested deeper than {MAX_DEPTH} levels", path=path)
        size = 2
        if kind is list:
            if len(value) > MAX_ITEMS:
                raise DataRejected(
                    f"the list has {len(value):,} items; at most {MAX_ITEMS:,} are allowed",
                    path=path,
                )
            for i, item in enumerate(value):
                size += _walk(item, _where(path, i), depth + 1) + 1
            return size
        if len(value) > MAX_KEYS:
            raise DataRejected(
                f"the object has {len(value):,} keys; at most {MAX_KEYS} are allowed", path=path
            )
        for key, item in value.items():
            check_key(key, path)
            size += _walk(item, _where(path, key), depth + 1) + len(key) + 4
        return size
    raise DataRejected(f"a {kind.__name__} is not a plain JSON value", path=path)


def check_key(key: Any, path: str = "") -> None:
    """A data name models can use as a variable: letters, digits and underscores."""
    if type(key) is not str:
        raise DataRejected("object keys must be text", path=path)
    if len(key) > MAX_KEY or not KEY_PATTERN.fullmatch(key):
        shown = key[:MAX_KEY] + ("…" if len(key) > MAX_KEY else "")
        raise DataRejected(
            f"the name '{_printable(shown)}' is not allowed: names start with a letter, hold only "
            f"Latin letters, digits and '_', and are at most {MAX_KEY} characters long",
            path=_where(path, _printable(shown)),
        )


def _printable(text: str) -> str:
    return _BAD_CHARS.sub("?", text)


def check_data(data: Any, *, what: str = "data") -> None:
    """Raise `DataRejected` (naming where) unless `data` is a JSON object within the limits."""
    if type(data) is not dict:
        raise DataRejected(f"the {what} must be a JSON object")
    estimate = _walk(data, "", 0)
    if estimate > MAX_BYTES:  # the estimate is high for text: measure exactly before refusing
        size = len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
        if size > MAX_BYTES:
            raise DataRejected(
                f"the {what} is {size:,} bytes as JSON; at most {MAX_BYTES:,} are allowed"
            )
