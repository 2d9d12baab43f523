"""Service tasks: named operations the models may call, each a plain Python callable.

A handler takes the evaluated parameters (and the case data) and returns a JSON-serialisable
result. Any exception it raises becomes `ServiceCallFailed`: the step keeps its progress, the
task waits, an incident is opened and the worker retries with back-off.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from .errors import ServiceCallFailed

ServiceHandler = Callable[[dict[str, Any], dict[str, Any]], Any]


class ServiceRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, ServiceHandler] = {}

    def register(self, name: str, handler: ServiceHandler) -> None:
        self._handlers[name] = handler

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def __call__(self, context: dict[str, Any], **kwargs: Any) -> str:
        """Called by the script engine for a service task; returns the JSON Spiff expects."""
        name = kwargs.get("operation_name")
        params = {k: v.get("value") for k, v in (kwargs.get("operation_params") or {}).items()}
        handler = self._handlers.get(name or "")
        if handler is None:
            raise ServiceCallFailed(f"no service named '{name}' is registered")
        try:
            result = handler(params, context)
        except ServiceCallFailed:
            raise
        except Exception as exc:  # an outside system failing is expected; keep its words
            raise ServiceCallFailed(f"service '{name}' failed: {exc}") from exc
        return json.dumps(result)


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 … minutes, at most one hour between attempts."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))
