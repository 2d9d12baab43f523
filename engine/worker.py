"""The timer worker: fires due timers and retries, and writes audit checkpoints periodically.

Run alone (`nadzor worker`) or as a daemon thread inside `nadzor serve` on the embedded default.
Several workers may run against PostgreSQL: each due row is taken under a row lock, so each
timer fires once.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("nadzor.worker")

CHECKPOINT_EVERY = timedelta(minutes=10)


class Worker:
    def __init__(self, engine: Engine, *, interval: float = 1.0) -> None:
        self.engine = engine
        self.interval = interval
        self._stop = threading.Event()
        self._last_checkpoint = None

    def poll(self) -> int:
        """One round: fire what is due now; checkpoint when the period has passed."""
        fired = self.engine.management.fire_due()
        self.engine.management.fire_alerts()
        now = self.engine.clock.now()
        if self._last_checkpoint is None or now - self._last_checkpoint >= CHECKPOINT_EVERY:
            self.engine.management.checkpoint(now)
            self._last_checkpoint = now
        return fired

    def run(self, *, once: bool = False) -> None:
        while not self._stop.is_set():
            try:
                fired = self.poll()
                if fired:
                    log.info("fired %d timers", fired)
            except Exception:  # keep the loop alive; the failure is logged and retried
                log.exception("worker round failed")
            if once:
                return
            self._stop.wait(self.interval)

    def start_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="nadzor-worker", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
