"""When to try a failed send again: exponential back-off with jitter, or Retry-After."""

from __future__ import annotations

import random


def retry_delay(attempts: int, base: float, cap: float,
                retry_after: float | None = None, rng: random.Random | None = None) -> float:
    """Seconds to wait before the next attempt after ``attempts`` failed ones.

    The delay doubles with each attempt up to ``cap`` and is spread over its upper
    half ("equal jitter"), so dispatchers that failed together do not retry
    together. A ``Retry-After`` from Twilio is a lower bound: the result is never
    shorter, and up to 20 % longer so that the retries of one batch spread out.
    """
    pick = (rng or random).uniform
    if retry_after is not None and retry_after > 0:
        return retry_after * pick(1.0, 1.2)
    ceiling = min(cap, base * 2 ** max(attempts - 1, 0))
    return pick(ceiling / 2, ceiling)


def parse_retry_after(value: str | None, now_epoch: float) -> float | None:
    """Parse a Retry-After header (seconds or an HTTP date) into seconds from now."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now_epoch, 0.0)
