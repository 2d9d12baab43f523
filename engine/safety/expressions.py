"""Expressions in models (gateway conditions, timers, DMN cells, payloads) on an AST whitelist.

An expression may read data, compare, compute and call a short list of functions; it may not
reach any attribute or name starting with `_`, call anything not whitelisted, define lambdas or
use `str.format` (which walks attributes by itself). What passes the check is compiled once and
evaluated with a tiny set of builtins, so `__import__`, `open`, `eval` are simply not there.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from types import CodeType
from typing import Any

from ..errors import ScriptFailed, UnsafeCode
from .limits import (
    EXPRESSION_CPU_S,
    GUARDED_BUILTINS,
    MAX_RANGE,
    OPERATOR_GUARDS,
    ExpressionGuards,
    run_guarded,
    run_limited,
)

__all__ = ["MAX_RANGE", "SAFE_BUILTINS", "check_expression", "check_tree", "evaluate"]

_GUARDED = ("str", "sum", "round", "range", "sorted", "min", "max")

SAFE_BUILTINS: dict[str, Any] = {
    "len": len,
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
    "sum": sum,
    "any": any,
    "all": all,
    "sorted": sorted,
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "list": list,
    "dict": dict,
    "set": set,
    "tuple": tuple,
    "enumerate": enumerate,
    "zip": zip,
    "True": True,
    "False": False,
    "None": None,
    **{k: v for k, v in GUARDED_BUILTINS.items() if k in _GUARDED},
}

#: What every expression sees before the case data could: builtins and the operator guards
#: are laid over the data, so a data key named `len` or `min` cannot shadow a function.
_BASE: dict[str, Any] = {
    **{k: v for k, v in SAFE_BUILTINS.items() if k not in ("True", "False", "None")},
    **OPERATOR_GUARDS,
    "__builtins__": SAFE_BUILTINS,
}

SAFE_METHODS = frozenset(
    {
        "get",
        "keys",
        "values",
        "items",
        "lower",
        "upper",
        "strip",
        "lstrip",
        "rstrip",
        "title",
        "startswith",
        "endswith",
        "split",
        "replace",
        "isdigit",
        "count",
        "index",
        "join",
        "date",
        "year",
        "month",
        "day",
        "hour",
        "minute",
        "second",
        "isoformat",
        "weekday",
    }
)

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.Store,
    ast.Compare,
    ast.BoolOp,
    ast.UnaryOp,
    ast.BinOp,
    ast.IfExp,
    ast.Subscript,
    ast.Slice,
    ast.List,
    ast.Tuple,
    ast.Dict,
    ast.Set,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.comprehension,
    ast.Call,
    ast.Attribute,
    ast.keyword,
    ast.JoinedStr,
    ast.FormattedValue,
    ast.And,
    ast.Or,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.Invert,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Is,
    ast.IsNot,
)


def _describe(node: ast.AST) -> str:
    return type(node).__name__


def _violation(node: ast.AST, callable_names: set[str]) -> tuple[int, str] | None:
    """(priority, message) for a construct not allowed; escapes rank before mere style."""
    if isinstance(node, ast.Name) and node.id.startswith("_"):
        return 0, f"name '{node.id}' is not allowed"
    if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
        return 0, f"attribute '{node.attr}' is not allowed"
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and "__" in node.value:
        return 0, "strings containing '__' are not allowed in expressions"
    if not isinstance(node, _ALLOWED_NODES):
        return 1, f"{_describe(node)} is not allowed in an expression"
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id not in callable_names:
            return 1, f"calling '{func.id}' is not allowed"
        if not isinstance(func, ast.Name | ast.Attribute):
            return 1, "only named functions and whitelisted methods may be called"
    if isinstance(node, ast.Attribute) and node.attr not in SAFE_METHODS:
        return 2, f"attribute '{node.attr}' is not allowed in an expression"
    return None


def check_tree(tree: ast.AST, allowed_functions: Iterable[str] = ()) -> None:
    """Walk an expression tree; raise UnsafeCode naming the worst construct not allowed."""
    callable_names = set(SAFE_BUILTINS) | set(allowed_functions)
    found = [v for node in ast.walk(tree) if (v := _violation(node, callable_names))]
    if found:
        raise UnsafeCode(min(found)[1])


#: An expression of at most this many nodes, without loops and calling only builtins, runs
#: without a tracer: its work is a handful of size-checked operations on bounded data.
STRAIGHT_LINE_NODES = 64
_LOOPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Lambda)


def _straight_line(tree: ast.AST) -> bool:
    """True when the expression cannot loop or enter Python code: no comprehension, no call
    of anything but a builtin (engine functions such as `add_working_days` run Python loops)."""
    for nodes, node in enumerate(ast.walk(tree), 1):
        if isinstance(node, _LOOPS) or nodes > STRAIGHT_LINE_NODES:
            return False
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id not in SAFE_BUILTINS:
                return False
    return True


@lru_cache(maxsize=4096)
def _compile(source: str, allowed: frozenset[str]) -> tuple[CodeType, bool]:
    """The guarded code object, and whether it needs the tracer (see `_straight_line`)."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise UnsafeCode(f"expression {source!r} is not valid: {exc.msg}") from exc
    check_tree(tree, allowed)
    traced = not _straight_line(tree)
    tree = ExpressionGuards().visit(tree)
    return compile(tree, "<expression>", "eval"), traced


def check_expression(source: str, allowed_functions: Iterable[str] = ()) -> None:
    _compile(source, frozenset(allowed_functions))


def evaluate(
    source: str,
    names: Mapping[str, Any],
    *,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    time_limit_s: float = EXPRESSION_CPU_S,
) -> Any:
    """Evaluate a checked expression over `names` (the task data) and the given functions.

    It runs under `time_limit_s` of this thread's CPU time (and the step's budget), its
    operators are size-checked before they allocate (see `limits`), and builtins and engine
    functions take precedence over data names. A short straight-line expression (the usual
    gateway condition) skips the tracer: it cannot loop, and each of its few operations is
    size-checked, so its time is bounded without one.
    """
    code, traced = _compile(source, frozenset(functions) if functions else frozenset())
    env: dict[str, Any] = {**names, **_BASE}
    if functions:
        env.update(functions)
    try:
        if not traced:
            return run_guarded(code, env, lambda: f"the expression {source.strip()!r}")
        return run_limited(
            lambda: eval(code, env),  # noqa: S307 - checked tree, restricted builtins
            time_limit_s,
            lambda: f"the expression {source.strip()!r}",
        )
    except ScriptFailed:
        raise
    except Exception as exc:
        raise ScriptFailed(f"expression {source.strip()!r} failed: {exc}") from exc
