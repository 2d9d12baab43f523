"""SpiffWorkflow's script engine, with our restricted evaluator in place of `eval`/`exec`.

Every expression and script a model holds (conditions, timers, DMN cells, payloads, script
tasks, pre/post scripts) reaches SpiffWorkflow's `PythonScriptEngine`, which hands it to an
environment. Ours checks and runs them with the functions in `expressions` and `scripts`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from ..errors import EngineError
from .expressions import evaluate
from .limits import EXPRESSION_CPU_S, SCRIPT_CPU_S
from .scripts import run_script


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    def __init__(
        self,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        service_handler: Callable[..., Any] | None = None,
        time_limit_s: float = SCRIPT_CPU_S,
        expression_limit_s: float = EXPRESSION_CPU_S,
    ) -> None:
        super().__init__({})
        self.functions = dict(functions or {})
        self.service_handler = service_handler
        self.time_limit_s = time_limit_s  # CPU seconds per script
        self.expression_limit_s = expression_limit_s  # CPU seconds per expression

    def evaluate(
        self,
        expression: str,
        context: dict[str, Any],
        external_context: dict[str, Any] | None = None,
    ) -> Any:
        names = {**context, **external_context} if external_context else context
        return evaluate(
            expression, names, functions=self.functions, time_limit_s=self.expression_limit_s
        )

    def execute(
        self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
    ) -> bool:
        functions = {**self.functions, **(external_context or {})}
        run_script(script, context, functions=functions, time_limit_s=self.time_limit_s)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        if self.service_handler is None:
            raise EngineError("this engine has no service handlers")
        return self.service_handler(context, **kwargs)


class RestrictedScriptEngine(PythonScriptEngine):
    """Fixes the 3.2.0 error path of `call_service` (it names an undefined `script`)."""

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        try:
            return self.environment.call_service(task.data, **kwargs)
        except Exception as err:
            raise WorkflowTaskException(str(err), task=task, exception=err) from err


def make_script_engine(
    functions: Mapping[str, Callable[..., Any]] | None = None,
    service_handler: Callable[..., Any] | None = None,
    *,
    script_cpu_s: float = SCRIPT_CPU_S,
    expression_cpu_s: float = EXPRESSION_CPU_S,
) -> PythonScriptEngine:
    return RestrictedScriptEngine(
        environment=RestrictedEnvironment(
            functions=functions,
            service_handler=service_handler,
            time_limit_s=script_cpu_s,
            expression_limit_s=expression_cpu_s,
        )
    )


def warm_up(engine: PythonScriptEngine) -> None:
    """Compile and run one expression and one script now, so that what the evaluators load on
    first use (RestrictedPython's compiler, the engine functions' first calls) is not paid
    inside the first step's CPU limits."""
    env = engine.environment
    names = {"start": "2026-01-05T10:00:00+05:00", "items": [1, 2]}
    env.evaluate("len(items) > 0 and f'{start:>1}' != ''", names)
    for name in ("add_working_days", "add_hours"):
        if name in getattr(env, "functions", {}):
            env.evaluate(f"{name}(start, 1)", names)
    env.execute("n = len(items) + 1\nlabel = f'N{n}'", dict(names), {})


def root_cause(exc: BaseException) -> BaseException:
    """The error worth showing: our own error inside SpiffWorkflow's wrappers, if there is one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, EngineError):
            return current
        seen.add(id(current))
        inner = getattr(current, "exception", None)
        current = (
            inner
            if isinstance(inner, BaseException)
            else (current.__cause__ or current.__context__)
        )
    return exc
