"""Breaker state shared through Redis, with an in-process fallback.

Each circuit keeps its own keys: ``circuit:{name}:state``,
``circuit:{name}:fail_counter``, ``circuit:{name}:success_counter`` and
``circuit:{name}:opened_at`` (Unix seconds). A missing or unreadable state key
reads as closed, so ``redis-cli DEL circuit:{name}:state`` resets the circuit.

When a Redis call fails or times out, the storage serves the circuit from an
in-process copy for ``retry_seconds`` before it tries Redis again. That keeps
every breaker call fast while Redis is down, at the cost of state that is no
longer shared between processes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar

import pybreaker
import redis

from engine.metrics import BREAKER_STORAGE_FALLBACKS

log = logging.getLogger(__name__)

T = TypeVar("T")
STATES = (pybreaker.STATE_CLOSED, pybreaker.STATE_OPEN, pybreaker.STATE_HALF_OPEN)
# Errors that mean "Redis is not usable right now"; OSError covers sockets
# that fail below redis-py.
REDIS_ERRORS = (redis.RedisError, OSError)


def state_key(name: str) -> str:
    return f"circuit:{name}:state"


class SharedCircuitStorage(pybreaker.CircuitBreakerStorage):
    """A pybreaker storage at ``circuit:{name}:*`` in Redis, or in memory without it."""

    def __init__(
        self,
        circuit: str,
        client: redis.Redis | None,
        retry_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__("redis" if client is not None else "memory")
        self.circuit = circuit
        self._client = client
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._memory = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self._down_until: float | None = None
        self._degraded = False
        self._lock = threading.Lock()

    def key(self, part: str) -> str:
        return f"circuit:{self.circuit}:{part}"

    @property
    def backend(self) -> str:
        """Where the state is read from right now: ``redis`` or ``memory``."""
        return "memory" if self.degraded else "redis"

    def _in_fallback(self) -> bool:
        return self._down_until is not None and self._clock() < self._down_until

    @property
    def degraded(self) -> bool:
        """True while the last Redis attempt failed (or there is no Redis at all)."""
        return self._client is None or self._degraded

    def _use_redis(self, operation: Callable[[redis.Redis], T], fallback: Callable[[], T]) -> T:
        if self._client is None or self._in_fallback():
            return fallback()
        try:
            result = operation(self._client)
        except REDIS_ERRORS as exc:
            self._fall_back(exc)
            return fallback()
        if self._degraded:
            self._degraded = False
            self._down_until = None
            log.info("circuit %s: breaker state is shared through Redis again", self.circuit)
        return result

    def _fall_back(self, exc: Exception) -> None:
        with self._lock:
            self._down_until = self._clock() + self._retry_seconds
            first = not self._degraded
            self._degraded = True
        BREAKER_STORAGE_FALLBACKS.labels(self.circuit).inc()
        # One warning per outage; the counter shows how often it recurs.
        log.log(logging.WARNING if first else logging.DEBUG,
            "circuit %s: Redis failed for breaker state (%s: %s); using in-process state "
            "for %.0fs before trying Redis again",
            self.circuit, type(exc).__name__, exc, self._retry_seconds,
        )

    # -- state ---------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._use_redis(self._read_state, lambda: self._memory.state)

    @state.setter
    def state(self, state: str) -> None:
        self._memory.state = state
        self._use_redis(lambda client: client.set(self.key("state"), state), lambda: None)

    def _read_state(self, client: redis.Redis) -> str:
        raw = client.get(self.key("state"))
        if raw is None:
            state = pybreaker.STATE_CLOSED
            self._forget_counts(client)
        else:
            state = raw.decode("utf-8", "replace").strip().lower()
            if state not in STATES:
                log.warning(
                    "circuit %s: %s contains invalid state %r (expected one of %s); "
                    "reading it as closed",
                    self.circuit, self.key("state"), state, ", ".join(STATES),
                )
                state = pybreaker.STATE_CLOSED
        if state == pybreaker.STATE_OPEN:
            # An operator can open a circuit with a bare SET; the recovery
            # timeout then runs from the moment a process first sees it.
            client.set(self.key("opened_at"), f"{time.time():.3f}", nx=True)
        self._memory.state = state
        return state

    def _forget_counts(self, client: redis.Redis) -> None:
        """Drop counters left behind when the state key was deleted (a reset)."""
        counter = client.get(self.key("fail_counter"))
        if counter not in (None, b"0"):
            client.delete(
                self.key("fail_counter"), self.key("success_counter"), self.key("opened_at")
            )
        self._memory.reset_counter()

    # -- counters --------------------------------------------------------------

    def increment_counter(self) -> None:
        self._memory.increment_counter()

        def incr(client: redis.Redis) -> None:
            pipe = client.pipeline()
            # The state key must exist while failures count; otherwise the
            # next read would take the counter for a reset's leftover.
            pipe.set(self.key("state"), pybreaker.STATE_CLOSED, nx=True)
            pipe.incr(self.key("fail_counter"))
            pipe.execute()

        self._use_redis(incr, lambda: None)

    def reset_counter(self) -> None:
        self._memory.reset_counter()
        self._use_redis(lambda client: client.set(self.key("fail_counter"), 0), lambda: None)

    def increment_success_counter(self) -> None:
        self._memory.increment_success_counter()
        self._use_redis(lambda client: client.incr(self.key("success_counter")), lambda: None)

    def reset_success_counter(self) -> None:
        self._memory.reset_success_counter()
        self._use_redis(lambda client: client.set(self.key("success_counter"), 0), lambda: None)

    @property
    def counter(self) -> int:
        return self._use_redis(
            lambda client: _as_int(client.get(self.key("fail_counter"))),
            lambda: self._memory.counter,
        )

    @property
    def success_counter(self) -> int:
        return self._use_redis(
            lambda client: _as_int(client.get(self.key("success_counter"))),
            lambda: self._memory.success_counter,
        )

    # -- opened_at ---------------------------------------------------------------

    @property
    def opened_at(self) -> datetime | None:
        def read(client: redis.Redis) -> datetime | None:
            raw = client.get(self.key("opened_at"))
            try:
                return None if raw is None else datetime.fromtimestamp(float(raw), timezone.utc)
            except (ValueError, OverflowError, OSError):
                log.warning("circuit %s: ignoring unreadable %s=%r",
                            self.circuit, self.key("opened_at"), raw)
                return None

        return self._use_redis(read, lambda: self._memory.opened_at)

    @opened_at.setter
    def opened_at(self, value: datetime) -> None:
        self._memory.opened_at = value
        self._use_redis(
            lambda client: client.set(self.key("opened_at"), f"{value.timestamp():.3f}"),
            lambda: None,
        )


def _as_int(raw: bytes | None) -> int:
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0
