"""Named circuit breakers around every outside dependency.

There is one pybreaker breaker per name in ``NAMES``, created once per
process. Thresholds and recovery timeouts default to the operations runbook
and come from settings (``CIRCUIT_{NAME}_FAIL_MAX`` and
``CIRCUIT_{NAME}_RESET_TIMEOUT``). State lives in Redis at
``circuit:{name}:state`` and beside it, so every process sees the same
circuit; without Redis each process keeps its own (degraded mode).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import pybreaker
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy.orm import Session

from engine.breakers import events
from engine.breakers.storage import SharedCircuitStorage, state_key
from engine.models import CircuitEvent
from engine.settings import CIRCUIT_DEFAULTS, Settings, get_settings

log = logging.getLogger(__name__)

NAMES = tuple(CIRCUIT_DEFAULTS)

__all__ = [
    "NAMES",
    "SPECS",
    "CircuitOpenError",
    "UnknownBreakerError",
    "breaker",
    "history",
    "reset",
    "snapshot",
    "state_key",
]


@dataclass(frozen=True)
class BreakerSpec:
    name: str
    fail_max: int
    reset_timeout: int


# The runbook's defaults; the values in force come from settings.
SPECS = {name: BreakerSpec(name, *limits) for name, limits in CIRCUIT_DEFAULTS.items()}


class UnknownBreakerError(KeyError):
    """Raised when a circuit name is not one of ``NAMES``."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown circuit {self.name!r}; known circuits: {', '.join(NAMES)}"


class CircuitOpenError(pybreaker.CircuitBreakerError):
    """Raised instead of calling a dependency whose circuit is open."""

    def __init__(self, name: str, detail: str, retry_at: datetime | None = None,
                 tripped: bool = False) -> None:
        self.name = name
        self.detail = detail
        self.retry_at = retry_at
        # True when this very call failed and its failure opened the circuit.
        self.tripped = tripped
        super().__init__(str(self))

    def __str__(self) -> str:
        when = f"until {self.retry_at.isoformat()}" if self.retry_at else "for now"
        return (
            f"circuit {self.name} is open ({self.detail}); calls fail fast {when}. "
            f"Reset it with POST /circuits/{self.name}/reset or "
            f"redis-cli DEL {state_key(self.name)} once the service has recovered"
        )


class NamedCircuitBreaker(pybreaker.CircuitBreaker):
    """A pybreaker breaker whose errors name the circuit and whose state changes carry a reason."""

    def __init__(self, *args, **kwargs) -> None:
        self.change_reason: str | None = None
        self.last_error: str | None = None
        super().__init__(*args, **kwargs)

    @property
    def state(self):
        stored = self.current_state
        if stored != self._state.name:
            with self._lock:
                self.change_reason = "seen in shared state (another process, redis-cli or a flush)"
                self._state = self._create_new_state(stored, prev_state=self._state, notify=True)
        return self._state

    @state.setter
    def state(self, state_str: str) -> None:
        with self._lock:
            self._state = self._create_new_state(state_str, prev_state=self._state, notify=True)

    def call(self, func, *args, **kwargs):
        try:
            return super().call(func, *args, **kwargs)
        except CircuitOpenError:
            raise
        except pybreaker.CircuitBreakerError as exc:
            raise self._open_error(exc) from exc.__context__ or exc

    def _open_error(self, exc: pybreaker.CircuitBreakerError) -> CircuitOpenError:
        opened_at = self._state_storage.opened_at
        retry_at = opened_at + timedelta(seconds=self.reset_timeout) if opened_at else None
        tripped = exc.__context__ is not None
        if tripped:
            detail = f"opened after {self.fail_max} failures; last error: {self.last_error}"
        else:
            detail = f"last error: {self.last_error or 'unknown'}"
        return CircuitOpenError(self.name, detail, retry_at, tripped)

    @property
    def storage_backend(self) -> str:
        return getattr(self._state_storage, "backend", "memory")


class _ChangeListener(pybreaker.CircuitBreakerListener):
    """Turns pybreaker's notifications into logged, stored circuit events."""

    def failure(self, cb: NamedCircuitBreaker, exc: BaseException) -> None:
        cb.last_error = f"{type(exc).__name__}: {exc}"[:500]

    def state_change(self, cb: NamedCircuitBreaker, old_state, new_state) -> None:
        old = old_state.name if old_state is not None else "closed"
        reason = cb.change_reason
        cb.change_reason = None
        observed = reason is not None and reason.startswith("seen in shared state")
        if reason is None:
            reason = _reason(cb, old, new_state.name)
        if old == new_state.name and not reason.startswith("reset by"):
            return
        events.record(events.PendingEvent(cb.name, old, new_state.name, reason, observed))


def _reason(cb: NamedCircuitBreaker, old: str, new: str) -> str:
    if new == pybreaker.STATE_OPEN and old == pybreaker.STATE_HALF_OPEN:
        return f"trial call failed: {cb.last_error}"
    if new == pybreaker.STATE_OPEN:
        return f"{cb.fail_max} consecutive failures; last error: {cb.last_error}"
    if new == pybreaker.STATE_HALF_OPEN:
        return f"recovery timeout of {cb.reset_timeout:g}s elapsed; letting one trial call through"
    if old == pybreaker.STATE_HALF_OPEN:
        return "trial call succeeded"
    return "closed"


_LISTENER = _ChangeListener()


@functools.lru_cache(maxsize=4)
def _redis_client(url: str, timeout: float) -> redis.Redis:
    # No retries: one attempt with a short timeout, then in-process state.
    return redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0), health_check_interval=0,
    )


def _storage(name: str, settings: Settings) -> SharedCircuitStorage:
    client = None
    if settings.REDIS_URL:
        client = _redis_client(settings.REDIS_URL, settings.CIRCUIT_REDIS_TIMEOUT_SECONDS)
    else:
        _warn_without_redis()
    return SharedCircuitStorage(name, client, settings.CIRCUIT_REDIS_RETRY_SECONDS)


@functools.lru_cache(maxsize=1)
def _warn_without_redis() -> None:
    log.warning("REDIS_URL is not set: each process keeps its own circuit breaker state")


@functools.lru_cache(maxsize=None)
def breaker(name: str) -> NamedCircuitBreaker:
    """Return this process's breaker for ``name``; raise UnknownBreakerError otherwise."""
    if name not in CIRCUIT_DEFAULTS:
        raise UnknownBreakerError(name)
    settings = get_settings()
    fail_max, reset_timeout = settings.circuit_limits(name)
    return NamedCircuitBreaker(
        fail_max=fail_max,
        reset_timeout=reset_timeout,
        state_storage=_storage(name, settings),
        listeners=[_LISTENER],
        name=name,
    )


def describe(name: str) -> dict:
    """Return one circuit's state as the ops API and dashboard show it."""
    current = breaker(name)
    state = current.current_state
    opened_at = current._state_storage.opened_at if state != pybreaker.STATE_CLOSED else None
    retry_at = (
        opened_at + timedelta(seconds=current.reset_timeout)
        if opened_at and state == pybreaker.STATE_OPEN else None
    )
    return {
        "state": state,
        "failure_count": current.fail_counter,
        "fail_max": current.fail_max,
        "reset_timeout": current.reset_timeout,
        "opened_at": opened_at.isoformat() if opened_at else None,
        "retry_at": retry_at.isoformat() if retry_at else None,
        "last_error": current.last_error,
        "storage": current.storage_backend,
        "key": state_key(name),
    }


def snapshot() -> dict[str, dict]:
    """Return the state of every breaker, keyed by name."""
    return {name: describe(name) for name in NAMES}


def degraded() -> bool:
    """True when any breaker reads its state from this process instead of Redis."""
    return any(breaker(name).storage_backend != "redis" for name in NAMES)


def reset(name: str, actor: str = "api", reason: str | None = None) -> dict:
    """Close the named circuit and clear its failure count; return its new state."""
    if name not in CIRCUIT_DEFAULTS:
        raise UnknownBreakerError(name)
    current = breaker(name)
    current.change_reason = f"reset by {actor}" + (f": {reason}" if reason else "")
    current.close()
    current.change_reason = None
    return describe(name)


def history(session: Session, name: str | None = None, limit: int = 200) -> list[CircuitEvent]:
    """Return recent state changes, newest first; unknown names raise UnknownBreakerError."""
    if name is not None and name not in CIRCUIT_DEFAULTS:
        raise UnknownBreakerError(name)
    return events.history(session, name, limit)


def flush_events(session: Session) -> int:
    """Write queued state changes into ``session``; the tick calls this."""
    return events.flush(session)

