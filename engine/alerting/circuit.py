"""Calls to Twilio through the ``twilio`` circuit breaker.

Only outages count as failures. A recipient error or a rate limit shows that
Twilio is up and responding. So the guarded call returns such an error
through the breaker as a result, and the caller raises it afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pybreaker

from engine.alerting.errors import DeliveryError
from engine.breakers import breaker

T = TypeVar("T")


class CircuitOpenError(RuntimeError):
    """Raised when the twilio circuit is open, so the call was not made."""


def reset_timeout() -> float:
    """Seconds the twilio circuit stays open before a trial call."""
    return float(getattr(breaker("twilio"), "reset_timeout", 30))


def guarded(call: Callable[..., T], *args) -> T:
    """Run ``call(*args)`` through the twilio breaker.

    Raises the call's DeliveryError whatever its kind, or CircuitOpenError when
    the breaker refused to make the call. When an outage trips the breaker, the
    outage itself is raised: that call did run and its outcome matters.
    """
    outage: DeliveryError | None = None
    answered: DeliveryError | None = None
    try:
        # ``calling()`` rather than ``call()``: pybreaker's call() holds the
        # breaker's lock for the whole call, which would serialise every send.
        with breaker("twilio").calling():
            try:
                result = call(*args)
            except DeliveryError as exc:
                if exc.counts_against_circuit:
                    outage = exc
                    raise
                answered = exc
    except pybreaker.CircuitBreakerError as exc:
        if outage is not None:
            raise outage from None
        raise CircuitOpenError(f"the twilio circuit is open: {exc}") from exc
    if answered is not None:
        raise answered
    return result
