"""Redis access with an in-process fallback.

With ``REDIS_URL`` unset, or Redis unreachable, every caller gets the same
small in-process store instead. The product keeps working (degraded): caches
are per process and shared state such as rate limits is no longer shared.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from typing import Any

import redis

from engine.settings import get_settings

log = logging.getLogger(__name__)

DECISION_TTL_SECONDS = 300
CUSTOMER_CONTEXT_TTL_SECONDS = 600


class MemoryStore:
    """The subset of Redis commands RISKCAST uses, kept in this process."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[Any, float | None]] = {}
        self._lock = threading.Lock()

    def _alive(self, key: str) -> bool:
        item = self._data.get(key)
        if item is None:
            return False
        if item[1] is not None and item[1] <= time.monotonic():
            del self._data[key]
            return False
        return True

    def get(self, key: str):
        with self._lock:
            return self._data[key][0] if self._alive(key) else None

    def set(self, key: str, value, ex: int | None = None, nx: bool = False):
        with self._lock:
            if nx and self._alive(key):
                return None
            expiry = time.monotonic() + ex if ex else None
            self._data[key] = (value if isinstance(value, bytes) else str(value).encode(), expiry)
            return True

    def delete(self, *keys: str) -> int:
        with self._lock:
            return sum(1 for key in keys if self._data.pop(key, None) is not None)

    def incr(self, key: str) -> int:
        with self._lock:
            current = int(self._data[key][0]) if self._alive(key) else 0
            expiry = self._data[key][1] if self._alive(key) else None
            self._data[key] = (str(current + 1).encode(), expiry)
            return current + 1

    def expire(self, key: str, seconds: int) -> bool:
        with self._lock:
            if not self._alive(key):
                return False
            self._data[key] = (self._data[key][0], time.monotonic() + seconds)
            return True

    def ttl(self, key: str) -> int:
        with self._lock:
            if not self._alive(key):
                return -2
            expiry = self._data[key][1]
            return -1 if expiry is None else max(0, int(expiry - time.monotonic()))

    def scan_iter(self, match: str = "*"):
        import fnmatch

        with self._lock:
            keys = [k for k in list(self._data) if self._alive(k)]
        return iter([k for k in keys if fnmatch.fnmatch(k, match)])

    def ping(self) -> bool:
        return True


_memory = MemoryStore()


@functools.lru_cache(maxsize=1)
def _client() -> redis.Redis | None:
    url = get_settings().REDIS_URL
    if url is None:
        log.warning("REDIS_URL is not set: running degraded with in-process caches")
        return None
    return redis.Redis.from_url(
        url, socket_connect_timeout=1.0, socket_timeout=1.0, health_check_interval=30
    )


def redis_client() -> redis.Redis | None:
    """Return the shared Redis client, or None when REDIS_URL is unset."""
    return _client()


def store():
    """Return Redis when configured, otherwise the in-process store."""
    client = _client()
    return client if client is not None else _memory


def memory_store() -> MemoryStore:
    return _memory


def reset_cache_clients() -> None:
    _client.cache_clear()


def redis_ping() -> tuple[bool, float | None, str | None]:
    """Ping Redis; return (ok, latency in ms, error)."""
    client = _client()
    if client is None:
        return False, None, "REDIS_URL is not set"
    started = time.perf_counter()
    try:
        client.ping()
    except redis.RedisError as exc:
        return False, None, str(exc)
    return True, (time.perf_counter() - started) * 1000.0, None


def cache_json(key: str, value, ttl: int) -> None:
    """Store a JSON value; a Redis failure only costs the cache entry."""
    try:
        store().set(key, json.dumps(value, default=str), ex=ttl)
    except redis.RedisError as exc:
        log.warning("cache write for %s failed: %s", key, exc)


def cached_json(key: str):
    try:
        raw = store().get(key)
    except redis.RedisError as exc:
        log.warning("cache read for %s failed: %s", key, exc)
        return None
    return None if raw is None else json.loads(raw)


def invalidate(*keys: str) -> None:
    try:
        if keys:
            store().delete(*keys)
    except redis.RedisError as exc:
        log.warning("cache invalidation of %s failed: %s", keys, exc)


def clear_decision_cache() -> int:
    """Delete every ``decision:*`` key; return how many were deleted."""
    target = store()
    deleted = 0
    try:
        batch = []
        for key in target.scan_iter(match="decision:*"):
            batch.append(key)
            if len(batch) >= 500:
                deleted += target.delete(*batch)
                batch = []
        if batch:
            deleted += target.delete(*batch)
    except redis.RedisError as exc:
        log.warning("clearing the decision cache failed: %s", exc)
    return deleted
