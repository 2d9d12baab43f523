"""The timer worker: starts scheduled cases, fires due timers and retries, and writes audit
checkpoints periodically (`fire_due` starts the occurrences of timer start events first:
engine/schedules.py; each occurrence once per office across workers).

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
from typing import TYPE_CHECKING, Any

from .audit_keys import settings_of
from .config import audit_verify_hours, checkpoint_seconds
from .errors import Busy
from .history import last_verification, verify_and_record

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("nadzor.worker")

#: a step stays outside a signed checkpoint at most this long (NADZOR_CHECKPOINT_SECONDS ≤ 60);
#: a round with nothing moved writes nothing
CHECKPOINT_EVERY = timedelta(seconds=checkpoint_seconds())


class Worker:
    def __init__(self, engine: Engine, *, interval: float = 1.0) -> None:
        self.engine = engine
        self.interval = interval
        self._stop = threading.Event()
        self._last_checkpoint = None
        self._next_verification = None
        #: the loop verifies in a thread of its own (minutes at a million cases) so that timers
        #: and checkpoints keep their pace; a single poll() verifies inline
        self._verify_in_thread = False
        self._verifying: threading.Thread | None = None

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
                written = management.checkpoint(now, only_if_moved=True)
                if not written.get("more"):  # a backlog is taken a slice per round
                    self._last_checkpoint = now
            except Exception:
                log.exception("writing the audit checkpoint failed; tried again next round")
        try:
            self._verify_when_due(now)
        except Exception:
            log.exception("verifying the history failed; tried again next round")
        return fired

    def _verify_when_due(self, now: Any) -> None:
        """Verify the whole history every NADZOR_AUDIT_VERIFY_HOURS, storing the result."""
        hours = audit_verify_hours()
        if not hours:
            return
        if self._next_verification is None:
            with self.engine.db.read() as conn:
                last = last_verification(conn)
            self._next_verification = last["instant"] + timedelta(hours=hours) if last else now
        if now < self._next_verification or (self._verifying and self._verifying.is_alive()):
            return
        self._next_verification = now + timedelta(hours=hours)

        def verify() -> None:
            result = verify_and_record(self.engine.db, now, "worker", settings_of(self.engine))
            if not result["ok"]:
                log.error("the history does not verify: %s", result.get("error"))

        if not self._verify_in_thread:
            verify()
            return

        def guarded() -> None:
            try:
                verify()
            except Exception:
                log.exception("verifying the history failed; tried again at the next period")

        self._verifying = threading.Thread(target=guarded, name="nadzor-verify", daemon=True)
        self._verifying.start()

    def run(self, *, once: bool = False) -> None:
        self._verify_in_thread = not once
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
