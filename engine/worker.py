"""The timer worker: fires due timers and retries, and writes audit checkpoints periodically.

Run alone (`nadzor worker`) or as a daemon thread inside `nadzor serve` on the embedded default.
Several workers may run against PostgreSQL: each due row is taken under a row lock, so each
timer fires once.

A round never stops for one case (the management service postpones a failing case's timer and
records an incident), and its three parts — timers, reminders and breaches, the checkpoint — are
independent: one failing is logged and the others still run.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

from .errors import Busy

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
        """One round: fire everything due now, record reminders and breaches, checkpoint when
        the period has passed. Returns how many timers fired."""
        management = self.engine.management
        fired = 0
        try:
            fired = management.fire_due()
        except Busy as exc:  # SQLite's one write lock was held too long: next round
            log.warning("timers: %s", exc)
        except Exception:
            log.exception("firing due timers failed")
        try:
            management.fire_alerts()
        except Busy as exc:
            log.warning("reminders and breaches: %s", exc)
        except Exception:
            log.exception("recording reminders and breaches failed")
        now = self.engine.clock.now()
        if self._last_checkpoint is None or now - self._last_checkpoint >= CHECKPOINT_EVERY:
            try:
                management.checkpoint(now)
                self._last_checkpoint = now
            except Exception:
                log.exception("writing the audit checkpoint failed; tried again next round")
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
