"""One log line when the database goes away, one when it is back.

Every job and heartbeat retries on its own schedule during an outage; logging
each attempt would bury the start and the end of the outage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from engine.db import describe_error

log = logging.getLogger(__name__)


class DatabaseOutage:
    """Track whether the worker currently reaches the database."""

    def __init__(self, worker_id: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._worker_id = worker_id
        self._clock = clock
        self._lock = threading.Lock()
        self._since: float | None = None
        self._failures = 0

    @property
    def active(self) -> bool:
        return self._since is not None

    def failed(self, operation: str, exc: BaseException, announce: bool = True) -> None:
        """Record a failed database access; log the start of an outage once.

        ``announce=False`` records it without the log line, for a caller
        that already logged an error about the same failure.
        """
        with self._lock:
            self._failures += 1
            if self._since is not None or not announce:
                if self._since is None:
                    self._since = self._clock()
                log.debug("worker %s: %s failed, database unavailable: %s",
                          self._worker_id, operation, describe_error(exc))
                return
            self._since = self._clock()
        log.error("worker %s: database unavailable (%s, during %s); every job retries "
                  "on its next period and the worker keeps running",
                  self._worker_id, describe_error(exc), operation)

    def recovered(self) -> None:
        with self._lock:
            if self._since is None:
                return
            seconds = self._clock() - self._since
            failures = self._failures
            self._since = None
            self._failures = 0
        log.warning("worker %s: database available again after %.0f s and %d failed "
                    "attempts", self._worker_id, seconds, failures)
