"""Named circuit breakers around every outside dependency.

Thresholds and recovery timeouts follow the operations runbook. Each breaker
is created once per process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pybreaker


@dataclass(frozen=True)
class BreakerSpec:
    name: str
    fail_max: int
    reset_timeout: int


SPECS = {
    spec.name: spec
    for spec in (
        BreakerSpec("polymarket", 5, 60),
        BreakerSpec("twilio", 3, 30),
        BreakerSpec("ais", 5, 45),
        BreakerSpec("news", 10, 120),
        BreakerSpec("database", 3, 15),
        BreakerSpec("redis", 5, 10),
    )
}


@functools.lru_cache(maxsize=None)
def breaker(name: str) -> pybreaker.CircuitBreaker:
    spec = SPECS[name]
    return pybreaker.CircuitBreaker(
        fail_max=spec.fail_max, reset_timeout=spec.reset_timeout, name=name
    )


def snapshot() -> dict[str, dict]:
    """Return the state of every breaker, keyed by name."""
    result = {}
    for name, spec in SPECS.items():
        current = breaker(name)
        result[name] = {
            "state": current.current_state,
            "failure_count": current.fail_counter,
            "fail_max": spec.fail_max,
            "reset_timeout": spec.reset_timeout,
        }
    return result


class UnknownBreakerError(KeyError):
    """Raised when a circuit name is not one of ``SPECS``."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown circuit {self.name!r}; known circuits: {', '.join(SPECS)}"


def reset(name: str) -> dict:
    """Close the named circuit and clear its failure count; return its new state."""
    if name not in SPECS:
        raise UnknownBreakerError(name)
    breaker(name).close()
    return snapshot()[name]
