"""The ``idempotency:{key}`` marks in Redis: which alerts Twilio has accepted.

A mark is written only after Twilio accepted the message. Its value is the
message SID and it expires after 24 hours. It is a fast path, not the only
guard: without Redis, or after the mark expired, the outbox row and a lookup
at Twilio decide instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis

from engine import cache

log = logging.getLogger(__name__)

TTL_SECONDS = 24 * 3600


def key_name(idempotency_key: str) -> str:
    return f"idempotency:{idempotency_key}"


def accepted_sids(keys: Iterable[str]) -> dict[str, str]:
    """Return the SIDs marked for ``keys``, leaving out keys without a readable mark."""
    requested = list(keys)
    if not requested:
        return {}
    store = cache.store()
    names = [key_name(k) for k in requested]
    try:
        values = store.mget(names) if hasattr(store, "mget") else [store.get(n) for n in names]
    except redis.RedisError as exc:
        log.warning("reading %d idempotency marks failed (%s); relying on the database "
                    "and Twilio lookups", len(names), exc)
        return {}
    return {
        key: value.decode() if isinstance(value, bytes) else str(value)
        for key, value in zip(requested, values)
        if value is not None
    }


def mark_accepted(idempotency_key: str, sid: str) -> None:
    try:
        cache.store().set(key_name(idempotency_key), sid, ex=TTL_SECONDS)
    except redis.RedisError as exc:
        log.warning("writing idempotency mark for %s (sid %s) failed: %s", idempotency_key,
                    sid, exc)


def forget(idempotency_key: str) -> None:
    """Drop the mark, so that an operator's retry sends a new message."""
    try:
        cache.store().delete(key_name(idempotency_key))
    except redis.RedisError as exc:
        log.warning("deleting idempotency mark for %s failed: %s", idempotency_key, exc)
