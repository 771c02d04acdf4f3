"""Process liveness checks behind ``GET /live``.

A process is live while every registered check passes. The ops API registers
none of its own, so its ``/live`` fails only when a component that runs
inside the same process (an embedded scheduler, for example) registers a
check and that check fails.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

_checks: dict[str, Callable[[], bool]] = {}
_lock = threading.Lock()


def register(name: str, check: Callable[[], bool]) -> None:
    """Add or replace the check called ``name``; it returns True while healthy."""
    with _lock:
        _checks[name] = check


def unregister(name: str) -> None:
    with _lock:
        _checks.pop(name, None)


def failing() -> list[str]:
    """Return the names of the checks that fail now (a raising check fails)."""
    with _lock:
        checks = list(_checks.items())
    failed = []
    for name, check in checks:
        try:
            healthy = bool(check())
        except Exception as exc:  # a broken check must not break the probe itself
            log.warning("liveness check %s raised %s: %s", name, type(exc).__name__, exc)
            healthy = False
        if not healthy:
            failed.append(name)
    return failed
