"""Script tasks compiled with RestrictedPython and run with its guards, under CPU and size limits.

RestrictedPython refuses names and attributes starting with `_` at compile time (which is what
stops `().__class__.__mro__[1].__subclasses__()`), and its guards check every attribute read,
item access and iteration at run time. The builtins are a short whitelist: no `__import__`,
`open`, `eval`, `exec`, `compile`, `getattr`.

The limits (see `limits`) hold whatever the script does: a tracer stops it past its CPU time
(of its own thread: it works in any thread, and a busy host does not count), operators and
amplifying methods are size-checked before they allocate, and the abort is a BaseException no
handler in a script can name: `except` may only name the whitelisted error classes below, and
bare `except:`, `finally`, `with` and classes are refused when the script is compiled.
Builtins and engine functions take precedence over data names, and a script may not assign to
those names, so a data key `len` cannot break a case.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from types import CodeType, ModuleType
from typing import Any

from RestrictedPython import compile_restricted, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from RestrictedPython.transformer import RestrictingNodeTransformer

from ..errors import ScriptFailed, UnsafeCode, ValidationFailed
from .expressions import SAFE_BUILTINS
from .limits import (
    GUARDED_BUILTINS,
    OPERATOR_GUARDS,
    SCRIPT_CPU_S,
    g_add,
    g_lshift,
    g_mod,
    g_mul,
    g_pow,
    guard_method,
    guarded_binop,
    guarded_formatted,
    run_limited,
)

#: The only errors a script may catch (by name); none of them is the limits' abort.
CATCHABLE_ERRORS: dict[str, type[Exception]] = {
    cls.__name__: cls
    for cls in (
        ValueError,
        KeyError,
        IndexError,
        LookupError,
        TypeError,
        ZeroDivisionError,
        ArithmeticError,
        OverflowError,
        AttributeError,
    )
}

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
    **GUARDED_BUILTINS,
    **CATCHABLE_ERRORS,
}


def _write_guard(obj: Any) -> Any:
    """Scripts may change their own dicts and lists, nothing else."""
    if isinstance(obj, dict | list | set):
        return obj
    raise UnsafeCode(f"scripts may not modify {type(obj).__name__} objects")


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": g_add,
    "-=": lambda a, b: a - b,
    "*=": g_mul,
    "/=": lambda a, b: a / b,
    "//=": lambda a, b: a // b,
    "%=": g_mod,
    "**=": g_pow,
    "<<=": g_lshift,
}


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    """`x += y` and friends (RestrictedPython rewrites them to this), size-checked."""
    if op not in _INPLACE:
        raise UnsafeCode(f"operator {op} is not allowed in scripts")
    return _INPLACE[op](x, y)


def _guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
    """RestrictedPython's attribute guard, then size-checked stand-ins for amplifying methods."""
    value = safer_getattr(obj, name, *default)
    guarded = guard_method(obj, name)
    return value if guarded is None else guarded


class _LimitedTransformer(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus size-checked operators and format specs."""

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        return guarded_binop(super().visit_BinOp(node))

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        return guarded_formatted(super().visit_FormattedValue(node))


#: Names the script sees before the case data could; a script may not assign to them either.
_BASE: dict[str, Any] = {
    **{k: v for k, v in _BUILTINS.items() if k not in ("True", "False", "None")},
    **OPERATOR_GUARDS,
    "__builtins__": _BUILTINS,
    "_getattr_": _guarded_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": _write_guard,
    "_inplacevar_": _inplacevar,
}


def _limits_violation(node: ast.AST, reserved: set[str]) -> str | None:
    """Constructs that could catch the limits' abort, or shadow a function, and are refused."""
    if isinstance(node, ast.ExceptHandler):
        names = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
        for named in names:
            if not (isinstance(named, ast.Name) and named.id in CATCHABLE_ERRORS):
                return (
                    "a bare 'except:' or one naming anything but "
                    f"{', '.join(CATCHABLE_ERRORS)} is not allowed; name the errors to catch, "
                    "e.g. 'except (ValueError, KeyError):'"
                )
    if isinstance(node, ast.Try | ast.TryStar) and node.finalbody:
        return "'finally' is not allowed in scripts"
    if isinstance(node, ast.With | ast.AsyncWith):
        return "'with' is not allowed in scripts"
    if isinstance(node, ast.ClassDef):
        return "classes are not allowed in scripts"
    stored = None
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
        stored = node.id
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ExceptHandler):
        stored = node.name
    elif isinstance(node, ast.arg):
        stored = node.arg
    if stored in reserved:
        return (
            f"'{stored}' is the name of a function scripts call; a script may not assign it, "
            "choose another name"
        )
    return None


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
    reserved = set(_BUILTINS) | allowed
    callable_names = reserved | _defined_names(tree)
    for node in ast.walk(tree):
        problem = _limits_violation(node, reserved)
        if problem is not None:
            raise UnsafeCode(f"{problem} (line {getattr(node, 'lineno', '?')})")
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
        return compile_restricted(
            source, filename="<script>", mode="exec", policy=_LimitedTransformer
        )
    except SyntaxError as exc:
        raise UnsafeCode(f"script refused: {exc.msg}") from exc


def check_script(source: str, allowed_functions: Iterable[str] = ()) -> None:
    _compile(source, frozenset(allowed_functions))


def run_script(
    source: str,
    data: dict[str, Any],
    *,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    time_limit_s: float = SCRIPT_CPU_S,
) -> None:
    """Run the script over `data`; plain variables it leaves behind are written back."""
    functions = dict(functions or {})
    code = _compile(source, frozenset(functions))
    env: dict[str, Any] = {**data, **_BASE, **functions}
    try:
        run_limited(lambda: exec(code, env), time_limit_s, "the script")  # noqa: S102
    except (ScriptFailed, UnsafeCode, ValidationFailed):
        raise  # a function the engine gives scripts may refuse the data a task submitted
    except Exception as exc:
        raise ScriptFailed(f"script failed: {type(exc).__name__}: {exc}") from exc
    for key, value in env.items():
        if key.startswith("_") or key in _BASE or key in functions:
            continue
        if callable(value) or isinstance(value, ModuleType):
            continue
        data[key] = value
