"""Per-key request limits in fixed one-minute windows.

The count lives in Redis at ``rate_limit:{key name}``. A Lua script increments
it and gives it its 60-second expiry in one atomic step, so concurrent API
replicas share one count. A key that lost its expiry (set by hand, for
example) gets it back on its next request. Without Redis, or while Redis
fails, each process counts on its own, so the effective limit is multiplied
by the number of processes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from engine import cache

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
# How often a continuing Redis failure is logged again, in seconds.
_FAILURE_LOG_INTERVAL = 60.0

_INCREMENT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


@dataclass(frozen=True)
class RateLimitResult:
    """One request's place in its window."""

    allowed: bool
    limit: int
    count: int
    reset_seconds: int
    backend: str

    @property
    def remaining(self) -> int:
        return max(self.limit - self.count, 0)

    def headers(self) -> dict[str, str]:
        """Return the RateLimit-* response headers, plus Retry-After when rejected."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers


def redis_key(identity: str) -> str:
    return f"rate_limit:{identity}"


class ProcessRateLimiter:
    """Fixed windows counted in this process, for when Redis is unavailable."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def hit(self, identity: str, limit: int) -> RateLimitResult:
        now = self._clock()
        with self._lock:
            count, ends_at = self._windows.get(identity, (0, 0.0))
            if ends_at <= now:
                count, ends_at = 0, now + WINDOW_SECONDS
                self._forget_expired(now)
            count += 1
            self._windows[identity] = (count, ends_at)
        reset = max(int(ends_at - now + 0.999), 1)
        return RateLimitResult(count <= limit, limit, count, reset, "process")

    def _forget_expired(self, now: float) -> None:
        for identity in [k for k, (_, end) in self._windows.items() if end <= now]:
            del self._windows[identity]


_process_limiter = ProcessRateLimiter()
_last_failure_log = 0.0


def hit(identity: str, limit: int, client: redis.Redis | None = None) -> RateLimitResult:
    """Count one request by ``identity`` and return whether it is within ``limit``."""
    client = client if client is not None else cache.redis_client()
    if client is None:
        return _process_limiter.hit(identity, limit)
    try:
        count, ttl = client.register_script(_INCREMENT_SCRIPT)(
            keys=[redis_key(identity)], args=[WINDOW_SECONDS]
        )
    except redis.RedisError as exc:
        _log_failure(identity, exc)
        return _process_limiter.hit(identity, limit)
    count, ttl = int(count), max(int(ttl), 1)
    return RateLimitResult(count <= limit, limit, count, ttl, "redis")


def _log_failure(identity: str, exc: redis.RedisError) -> None:
    global _last_failure_log
    now = time.monotonic()
    if now - _last_failure_log >= _FAILURE_LOG_INTERVAL:
        _last_failure_log = now
        log.warning(
            "rate limit for %s counted in this process because Redis failed: %s",
            identity, exc,
        )


def process_limiter() -> ProcessRateLimiter:
    return _process_limiter
