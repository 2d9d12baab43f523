"""Script tasks compiled with RestrictedPython and run with its guards and a time bound.

RestrictedPython refuses names and attributes starting with `_` at compile time (which is what
stops `().__class__.__mro__[1].__subclasses__()`), and its guards check every attribute read,
item access and iteration at run time. The builtins are a short whitelist: no `__import__`,
`open`, `eval`, `exec`, `compile`, `getattr`. A tracer stops a script that runs too long; it
works in any thread (signals would only work in the main one).
"""

from __future__ import annotations

import ast
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from types import CodeType, FrameType, ModuleType
from typing import Any

from RestrictedPython import compile_restricted, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)

from ..errors import ScriptFailed, ScriptTimeout, UnsafeCode
from .expressions import SAFE_BUILTINS

_ALLOWED_SAFE_BUILTINS = {
    "None",
    "ValueError",
    "False",
    "True",
    "abs",
    "bool",
    "callable",
    "chr",
    "divmod",
    "float",
    "hash",
    "int",
    "isinstance",
    "len",
    "ord",
    "pow",
    "repr",
    "round",
    "slice",
    "sorted",
    "str",
    "tuple",
    "zip",
}
_BUILTINS: dict[str, Any] = {
    **{k: v for k, v in safe_builtins.items() if k in _ALLOWED_SAFE_BUILTINS},
    **SAFE_BUILTINS,
}

_TRACE_CHECK_EVERY = 1000


def _write_guard(obj: Any) -> Any:
    """Scripts may change their own dicts and lists, nothing else."""
    if isinstance(obj, dict | list | set):
        return obj
    raise UnsafeCode(f"scripts may not modify {type(obj).__name__} objects")


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    ops: dict[str, Callable[[Any, Any], Any]] = {
        "+=": lambda a, b: a + b,
        "-=": lambda a, b: a - b,
        "*=": lambda a, b: a * b,
        "/=": lambda a, b: a / b,
        "//=": lambda a, b: a // b,
        "%=": lambda a, b: a % b,
    }
    if op not in ops:
        raise UnsafeCode(f"operator {op} is not allowed in scripts")
    return ops[op](x, y)


def _defined_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


@lru_cache(maxsize=1024)
def _compile(source: str, allowed: frozenset[str] = frozenset()) -> CodeType:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise UnsafeCode(f"script is not valid Python: {exc.msg} (line {exc.lineno})") from exc
    callable_names = set(_BUILTINS) | allowed | _defined_names(tree)
    for node in ast.walk(tree):
        called = (
            node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else None
        )
        if called is not None and called not in callable_names:
            raise UnsafeCode(f"calling '{node.func.id}' is not allowed (line {node.lineno})")
        if isinstance(node, ast.Import | ast.ImportFrom):
            raise UnsafeCode(f"imports are not allowed in scripts (line {node.lineno})")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
        ):
            raise UnsafeCode(f"str.format is not allowed in scripts (line {node.lineno})")
    try:
        return compile_restricted(source, filename="<script>", mode="exec")
    except SyntaxError as exc:
        raise UnsafeCode(f"script refused: {exc.msg}") from exc


def check_script(source: str, allowed_functions: Iterable[str] = ()) -> None:
    _compile(source, frozenset(allowed_functions))


def _tracer(deadline: float, limit: float) -> Callable[[FrameType, str, Any], Any]:
    counter = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal counter
        counter += 1
        if counter % _TRACE_CHECK_EVERY == 0 and time.monotonic() > deadline:
            raise ScriptTimeout(f"script ran past its time limit of {limit:g} s and was stopped")
        return trace

    return trace


def run_script(
    source: str,
    data: dict[str, Any],
    *,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    time_limit_s: float = 1.0,
) -> None:
    """Run the script over `data`; plain variables it leaves behind are written back."""
    functions = dict(functions or {})
    code = _compile(source, frozenset(functions))
    env: dict[str, Any] = {
        **data,
        **functions,
        "__builtins__": _BUILTINS,
        "_getattr_": safer_getattr,
        "_getitem_": default_guarded_getitem,
        "_getiter_": default_guarded_getiter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": _write_guard,
        "_inplacevar_": _inplacevar,
    }
    previous = sys.gettrace()
    sys.settrace(_tracer(time.monotonic() + time_limit_s, time_limit_s))
    try:
        exec(code, env)  # noqa: S102 - compiled by RestrictedPython, guarded globals
    except (ScriptTimeout, UnsafeCode):
        raise
    except Exception as exc:
        raise ScriptFailed(f"script failed: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.settrace(previous)
    for key, value in env.items():
        if key.startswith("_") or key in functions:
            continue
        if callable(value) or isinstance(value, ModuleType):
            continue
        data[key] = value
