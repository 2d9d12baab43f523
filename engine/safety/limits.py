"""Limits that hold for everything a model runs: CPU time, the size of what it builds, memory.

Why each limit is built the way it is:

* **CPU time of the running thread** (`time.thread_time()`), never wall-clock: a busy host, a
  paused process or a cold start must not fail a lawful step, and a thread that is not running
  does not spend its budget. A tracer (`sys.settrace`, which works in any thread) counts Python
  events and looks at the clock every `CHECK_EVERY` events. Model code is traced line by line,
  the engine functions it calls only by their calls. A short straight-line expression (at most
  64 nodes, no comprehension, calling builtins only: the usual gateway condition) runs without
  a tracer, since it cannot loop and each of its operations is size-checked: it costs ~0.6 us
  more than before; a traced one (a timer calling `add_working_days`) ~4-10 us more.
* **An abort the model cannot catch**: the tracer and the size guards raise `Abort`, a
  `BaseException`. Scripts may only name whitelisted `Exception` subclasses in `except`, and
  bare `except:`, `finally`, `with` and classes are refused when the script is compiled, so no
  handler in the model sees the abort. The evaluators turn it into `ScriptTimeout` /
  `ScriptFailed` at their boundary.
* **Sizes are checked before allocating**: C-level work (`9**9**9`, `'a' * 4 * 10**9`) cannot be
  stopped by a tracer once started, so `**`, `*`, `+`, `<<`, `%`, f-string format specs and the
  methods that amplify (`replace`, `join`, `ljust`, ...) go through guards that compute the size
  of the result from the operands and refuse it past the limits below.
* **A last net for memory**: the tracer reads the process's resident size every check and stops
  a run that made it grow by more than `MAX_RSS_GROWTH_MB`.
* **A step budget**: all scripts, expressions and engine loops of one step share
  `STEP_CPU_S` of thread CPU time (`step_budget`).

Known residual risk (documented, not guarded): `==`, `<` and `in` between two large nested
containers compare them item by item in C (sorting, min and max are guarded); each container is
bounded in size, but such a comparison is not interruptible.
"""

from __future__ import annotations

import ast
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ..errors import ScriptFailed, ScriptTimeout

#: CPU seconds one script task (or pre/post script) may use.
SCRIPT_CPU_S = 1.0
#: CPU seconds one expression (condition, timer, DMN cell, payload) may use.
EXPRESSION_CPU_S = 0.5
#: CPU seconds all scripts, expressions and engine loops of one step may use together.
STEP_CPU_S = 5.0
#: Largest integer a model may build with `**`, `*` or `<<` (about 2,466 decimal digits).
MAX_INT_BITS = 8192
#: Most characters in a string, or items in a list or tuple, one operation may build.
MAX_LENGTH = 1_000_000
#: Largest width or precision in a format spec (`f"{x:>20}"`, `"%10s" % x`).
MAX_FORMAT_WIDTH = 1_000
#: Most characters/items all large results (>= `_COUNTED_FROM`) of one run may add up to.
MAX_BUILT_PER_RUN = 20_000_000
#: Growth of the process's resident memory during one run past which the run is stopped.
MAX_RSS_GROWTH_MB = 512
#: Most items `range()` may produce.
MAX_RANGE = 100_000
#: Largest `ndigits` of `round()` (a huge negative one makes CPython compute 10**n).
MAX_ROUND_DIGITS = 400

#: The file names model code is compiled under (traced line by line).
MODEL_FILENAMES = frozenset({"<expression>", "<script>"})
CHECK_EVERY = 1000  # tracer events between two looks at the clock and the memory
_COUNTED_FROM = 4096  # results smaller than this do not count towards MAX_BUILT_PER_RUN

T = TypeVar("T")


class Abort(BaseException):  # noqa: N818 - it is not an error a handler should ever see
    """Stops a model's code; a BaseException so that no `except` a script may write catches it."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "time", "step", "memory" or "size"
        self.message = message


class StepBudgetExceeded(ScriptTimeout):
    """The scripts, expressions and loops of one step used more CPU time than the step may."""


class _State(threading.local):
    step_deadline: float | None = None
    step_limit: float = STEP_CPU_S
    built: int = 0


_state = _State()

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_statm: tuple[int, int] | None = None  # (pid, fd): reopened in a forked child


def _rss_bytes() -> int:
    """This process's resident memory (Linux; 0 elsewhere: the size guards still hold)."""
    global _statm
    pid = os.getpid()
    if _statm is None or _statm[0] != pid:
        try:
            _statm = (pid, os.open("/proc/self/statm", os.O_RDONLY))
        except OSError:
            return 0
    return int(os.pread(_statm[1], 64, 0).split()[1]) * _PAGE


# -- the step budget ----------------------------------------------------------------------------


@contextmanager
def step_budget(cpu_s: float = STEP_CPU_S) -> Iterator[None]:
    """Give the current thread's step `cpu_s` seconds of CPU time; nested uses share the outer."""
    if _state.step_deadline is not None:
        yield
        return
    _state.step_deadline = time.thread_time() + cpu_s
    _state.step_limit = cpu_s
    try:
        yield
    finally:
        _state.step_deadline = None


def _step_message() -> str:
    return (
        f"the step used more than its budget of {_state.step_limit:g} s of CPU time for its "
        "scripts, expressions and loops and was stopped; it was rolled back and the case is as "
        "before. The model must do less in one step (bound the loop or split the work)."
    )


def check_step_budget() -> None:
    """Raise StepBudgetExceeded if the current step has used up its CPU time."""
    deadline = _state.step_deadline
    if deadline is not None and time.thread_time() > deadline:
        raise StepBudgetExceeded(_step_message())


# -- running under limits -----------------------------------------------------------------------


def run_limited(fn: Callable[[], T], cpu_s: float, what: str | Callable[[], str]) -> T:
    """Call `fn` with a tracer that stops it past `cpu_s` of this thread's CPU time (or past the
    step's budget), and translate an `Abort` into the engine's errors. `what` names the code in
    messages (a callable is only called when a message is needed: the hot path stays cheap).

    Only model code is traced line by line: the guards and engine functions it calls are seen
    by their calls (the guards are bounded by the limits they check)."""
    now = time.thread_time()
    step_deadline = _state.step_deadline
    if step_deadline is not None and now > step_deadline:
        raise StepBudgetExceeded(_step_message())
    own = now + cpu_s
    by_step = step_deadline is not None and step_deadline < own
    deadline = step_deadline if by_step else own
    count = 0
    rss0 = -1

    def trace(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count, rss0
        count += 1
        if count >= CHECK_EVERY:
            count = 0
            if time.thread_time() > deadline:
                if by_step:
                    raise Abort("step", _step_message())
                raise Abort(
                    "time",
                    f"{_name(what)} ran past its time limit of {cpu_s:g} s of CPU time "
                    "and was stopped; the step was rolled back",
                )
            rss = _rss_bytes()
            if rss0 < 0:
                rss0 = rss
            elif rss - rss0 > MAX_RSS_GROWTH_MB << 20:
                raise Abort(
                    "memory",
                    f"{_name(what)} made the server's memory grow by more than "
                    f"{MAX_RSS_GROWTH_MB} MB and was stopped; the step was rolled back",
                )
        # Model code is traced line by line; the engine's own functions it calls (deadlines,
        # guards) only by their calls, which is enough to stop them and much cheaper.
        return trace if frame.f_code.co_filename in MODEL_FILENAMES else None

    built = _state.built
    _state.built = 0
    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        return fn()
    except Abort as exc:
        if exc.kind == "step":
            raise StepBudgetExceeded(exc.message) from None
        if exc.kind == "time":
            raise ScriptTimeout(exc.message) from None
        if exc.kind == "memory":
            raise ScriptFailed(exc.message) from None
        raise ScriptFailed(f"{_name(what)} was refused: {exc.message}") from None
    finally:
        sys.settrace(previous)
        _state.built = built


def run_guarded(code: Any, env: dict[str, Any], what: str | Callable[[], str]) -> Any:
    """Evaluate straight-line code without a tracer: only the size guards can stop it."""
    try:
        return eval(code, env)  # noqa: S307 - checked and rewritten by the caller
    except Abort as exc:
        raise ScriptFailed(f"{_name(what)} was refused: {exc.message}") from None


def _name(what: str | Callable[[], str]) -> str:
    return what if isinstance(what, str) else what()


# -- size guards (called by rewritten operators and wrapped builtins/methods) --------------------


def _refuse(message: str) -> Abort:
    return Abort(
        "size",
        f"{message}; nothing was built. Limits: {MAX_LENGTH:,} characters or items "
        f"per value, integers of {MAX_INT_BITS:,} bits.",
    )


def _account(size: int) -> None:
    if size >= _COUNTED_FROM:
        _state.built += size
        if _state.built > MAX_BUILT_PER_RUN:
            raise Abort(
                "size",
                f"it built more than {MAX_BUILT_PER_RUN:,} characters or items in large values",
            )


_SEQUENCES = (str, bytes, list, tuple)
_CONTAINERS = (list, tuple, dict, set, frozenset)


_NESTED = (str, bytes, *_CONTAINERS)


def expanded_size(value: Any, budget: int = MAX_LENGTH) -> int:
    """Items and characters of `value` counted through nested containers (a list holding the
    same big list twice counts it twice, as printing it would); stops counting past `budget`.
    Every item counts 1, a string its length more; flat containers are counted in C."""
    total = 1
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, _CONTAINERS):
            if isinstance(item, dict):
                item = [*item.keys(), *item.values()]
            total += len(item)
            if total > budget:
                return total
            if any(issubclass(t, _NESTED) for t in set(map(type, item))):
                stack.extend(x for x in item if isinstance(x, _NESTED))
        if total > budget:
            return total
    return total


def _check_length(size: int, what: str) -> None:
    if size > MAX_LENGTH:
        raise _refuse(f"{what} of {size:,} characters or items is over the limit")
    _account(size)


def _is_int(x: Any) -> bool:
    return isinstance(x, int)


def g_pow(a: Any, b: Any, mod: Any = None) -> Any:
    big = _is_int(a) and _is_int(b) and b > 0 and abs(a) > 1
    if big and mod is None and (b > MAX_INT_BITS or b * math.log2(abs(a)) > MAX_INT_BITS):
        raise _refuse(f"a power {a if a.bit_length() < 64 else 'n'}**{b} is too large")
    return pow(a, b) if mod is None else pow(a, b, mod)


def g_mul(a: Any, b: Any) -> Any:
    if _is_int(a) and _is_int(b):
        if a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
            raise _refuse("a product of integers is too large")
    elif isinstance(a, _SEQUENCES) and _is_int(b):
        _check_repeat(a, b)
    elif isinstance(b, _SEQUENCES) and _is_int(a):
        _check_repeat(b, a)
    return a * b


def _check_repeat(seq: Any, times: int) -> None:
    if times <= 0:
        return
    size = len(seq) * times
    if not isinstance(seq, str | bytes) and size <= MAX_LENGTH:
        # a list of lists repeated prints and compares as big as all of them spelled out
        size = (expanded_size(seq) - 1) * times  # without the list itself
    _check_length(size, "a repetition")


def g_add(a: Any, b: Any) -> Any:
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        _check_length(len(a) + len(b), "a concatenation")
    return a + b


def g_lshift(a: Any, b: Any) -> Any:
    if _is_int(a) and _is_int(b) and a and b > 0 and a.bit_length() + b > MAX_INT_BITS:
        raise _refuse("a shifted integer is too large")
    return a << b


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_SPEC_NUMBERS = re.compile(r"\d+")


def _check_widths(numbers: list[str], what: str) -> None:
    for n in numbers:
        if n == "*" or (n and int(n) > MAX_FORMAT_WIDTH):
            raise _refuse(
                f"{what} asks for a width or precision of {n}, over the limit of "
                f"{MAX_FORMAT_WIDTH:,}"
            )


def g_mod(a: Any, b: Any) -> Any:
    if isinstance(a, str | bytes):
        text = a if isinstance(a, str) else a.decode("latin-1")
        numbers = [n for m in _PERCENT_SPEC.finditer(text) for n in m.groups() if n]
        _check_widths(numbers, "a % format")
        _check_length(len(a) + expanded_size(b), "a % format")
    return a % b


_CONVERSIONS: dict[int, Callable[[Any], str]] = {115: str, 114: repr, 97: ascii}


def g_format(value: Any, conversion: int, spec: str) -> str:
    """One `{value!conversion:spec}` of an f-string, with the spec's widths bounded."""
    if isinstance(value, _CONTAINERS):
        _check_length(expanded_size(value), "a formatted value")
    if conversion in _CONVERSIONS:
        value = _CONVERSIONS[conversion](value)
    if spec:
        _check_widths(_SPEC_NUMBERS.findall(spec), "a format spec")
    return format(value, spec)


def g_repr(value: Any) -> str:
    if isinstance(value, _CONTAINERS):
        _check_length(expanded_size(value), "repr()")
    return repr(value)


class _StrMeta(type):
    """`str` for models: `str(x)` checks the size first, `isinstance(x, str)` still works."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if args and isinstance(args[0], _CONTAINERS):
            _check_length(expanded_size(args[0]), "str()")
        return str(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        unbound = guard_method(str, name)
        return unbound if unbound is not None else getattr(str, name)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, str)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, str)


class g_str(metaclass=_StrMeta):  # noqa: N801 - it stands for `str`
    pass


def g_sum(iterable: Any, start: Any = 0) -> Any:
    if not isinstance(start, int | float):
        raise _refuse("sum() adds numbers only (use join for strings)")
    return sum(iterable, start)


def _check_compared(items: Any) -> list[Any]:
    """Sorting or taking the min/max of containers compares them item by item, in C: their
    size spelled out (shared references counted each time) is bounded like a value's."""
    items = list(items)
    if any(isinstance(x, _CONTAINERS) for x in items):
        _check_length(expanded_size(items), "comparing nested values")
    return items


def g_sorted(iterable: Any, *, key: Any = None, reverse: bool = False) -> list[Any]:
    return sorted(_check_compared(iterable), key=key, reverse=reverse)


def g_min(*args: Any, **kwargs: Any) -> Any:
    return min(*_compared_args(args), **kwargs)


def g_max(*args: Any, **kwargs: Any) -> Any:
    return max(*_compared_args(args), **kwargs)


def _compared_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(args) == 1:
        return (_check_compared(args[0]),)
    _check_compared(args)
    return args


def g_round(number: Any, ndigits: Any = None) -> Any:
    if ndigits is None:
        return round(number)
    if _is_int(ndigits) and abs(ndigits) > MAX_ROUND_DIGITS:
        raise _refuse(f"round() to {ndigits} digits is out of range")
    return round(number, ndigits)


def g_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise _refuse(f"a range of {len(r):,} items is over the limit of {MAX_RANGE:,}")
    return r


# -- methods that can amplify -------------------------------------------------------------------


def _str_replace(s: Any) -> Callable[..., Any]:
    def replace(old: Any, new: Any, count: int = -1) -> Any:
        if isinstance(old, str | bytes) and isinstance(new, str | bytes):
            hits = s.count(old) if old else len(s) + 1
            if count >= 0:
                hits = min(hits, count)
            _check_length(len(s) + hits * max(0, len(new) - len(old)), "replace()")
        return s.replace(old, new, count)

    return replace


def _str_join(sep: Any) -> Callable[..., Any]:
    def join(iterable: Any) -> Any:
        items = list(iterable)
        size = sum(len(x) for x in items if isinstance(x, str | bytes))
        _check_length(size + len(sep) * max(0, len(items) - 1), "join()")
        return sep.join(items)

    return join


def _str_pad(s: Any, name: str) -> Callable[..., Any]:
    method = getattr(s, name)

    def pad(width: Any, *args: Any) -> Any:
        if _is_int(width):
            _check_length(width, f"{name}()")
        return method(width, *args)

    return pad


def _str_expandtabs(s: Any) -> Callable[..., Any]:
    def expandtabs(tabsize: int = 8) -> Any:
        if _is_int(tabsize):
            _check_length(
                len(s) + s.count("\t" if isinstance(s, str) else b"\t") * tabsize, "expandtabs()"
            )
        return s.expandtabs(tabsize)

    return expandtabs


def _list_extend(lst: list[Any]) -> Callable[..., Any]:
    def extend(items: Any) -> None:
        items = list(items)
        _check_length(len(lst) + len(items), "extend()")
        lst.extend(items)

    return extend


def _int_to_bytes(n: int) -> Callable[..., Any]:
    def to_bytes(length: int = 1, *args: Any, **kwargs: Any) -> bytes:
        if _is_int(length):
            _check_length(length, "to_bytes()")
        return n.to_bytes(length, *args, **kwargs)

    return to_bytes


def _refused(name: str) -> Callable[..., Any]:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise _refuse(f"{name}() is not available to models")

    return refused


_PADS = frozenset({"ljust", "rjust", "center", "zfill"})
AMPLIFYING_METHODS = frozenset(
    {*_PADS, "replace", "join", "expandtabs", "extend", "to_bytes", "translate", "format_map"}
)


def _unbound(name: str) -> Callable[..., Any]:
    """`str.join(sep, items)` and the like: the class's method, size-checked like the bound one."""

    def method(obj: Any, *args: Any, **kwargs: Any) -> Any:
        guarded = guard_method(obj, name)
        return (guarded or getattr(obj, name))(*args, **kwargs)

    return method


def guard_method(obj: Any, name: str) -> Any | None:
    """A size-checked stand-in for `obj.name` when that method can amplify, else None."""
    if name not in AMPLIFYING_METHODS:
        return None
    if isinstance(obj, type):
        return _unbound(name)
    if isinstance(obj, str | bytes):
        if name == "replace":
            return _str_replace(obj)
        if name == "join":
            return _str_join(obj)
        if name in _PADS:
            return _str_pad(obj, name)
        if name == "expandtabs":
            return _str_expandtabs(obj)
        if name in ("translate", "format_map"):
            return _refused(name)
    if isinstance(obj, list) and name == "extend":
        return _list_extend(obj)
    if isinstance(obj, int) and name == "to_bytes":
        return _int_to_bytes(obj)
    return None


def g_attr(obj: Any, name: str) -> Any:
    """`obj.name` for expressions (names are already checked): amplifying methods guarded."""
    guarded = guard_method(obj, name)
    return guarded if guarded is not None else getattr(obj, name)


#: Builtins replaced by their guarded versions (both evaluators).
GUARDED_BUILTINS: dict[str, Any] = {
    "str": g_str,
    "repr": g_repr,
    "sum": g_sum,
    "round": g_round,
    "range": g_range,
    "pow": g_pow,
    "sorted": g_sorted,
    "min": g_min,
    "max": g_max,
}

#: Names the rewritten code calls; they start with `__`, which model code may never write.
OPERATOR_GUARDS: dict[str, Any] = {
    "__lim_pow": g_pow,
    "__lim_mul": g_mul,
    "__lim_add": g_add,
    "__lim_lshift": g_lshift,
    "__lim_mod": g_mod,
    "__lim_format": g_format,
    "__lim_attr": g_attr,
}


# -- rewriting code so that its operators go through the guards --------------------------------

_BINOP_GUARDS: dict[type[ast.operator], str] = {
    ast.Pow: "__lim_pow",
    ast.Mult: "__lim_mul",
    ast.Add: "__lim_add",
    ast.LShift: "__lim_lshift",
    ast.Mod: "__lim_mod",
}


def _call(name: str, args: list[ast.expr], where: ast.AST) -> ast.Call:
    call = ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=args, keywords=[])
    ast.copy_location(call, where)
    return ast.fix_missing_locations(call)


def guarded_binop(node: ast.BinOp) -> ast.expr:
    """`a ** b` -> `__lim_pow(a, b)` (and `*`, `+`, `<<`, `%`); other operators unchanged."""
    name = _BINOP_GUARDS.get(type(node.op))
    return node if name is None else _call(name, [node.left, node.right], node)


def guarded_formatted(node: ast.FormattedValue) -> ast.FormattedValue:
    """`{x!r:>{n}}` -> `{__lim_format(x, 114, f">{n}")}`: the spec's widths are checked."""
    spec: ast.expr = node.format_spec if node.format_spec is not None else ast.Constant("")
    call = _call("__lim_format", [node.value, ast.Constant(node.conversion), spec], node)
    return ast.copy_location(ast.FormattedValue(value=call, conversion=-1, format_spec=None), node)


class ExpressionGuards(ast.NodeTransformer):
    """Rewrites a checked expression: guarded operators, format specs and amplifying methods."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        return guarded_binop(node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.FormattedValue:
        self.generic_visit(node)
        return guarded_formatted(node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load) and node.attr in AMPLIFYING_METHODS:
            return _call("__lim_attr", [node.value, ast.Constant(node.attr)], node)
        return node
