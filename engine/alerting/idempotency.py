"""The ``idempotency:{key}`` marks in Redis: which alerts Twilio has accepted.

A mark is written only after Twilio accepted the message. Its value is the
message SID, then a space and the creation time of the alert row, and it
expires after 24 hours. It is a fast path, not the only guard: without
Redis, or after the mark expired, the outbox row and a lookup at Twilio
decide instead.

Alert keys are built from decision ids, which start again at 1 in a new
database. The creation time distinguishes a mark of this alert from one
that an earlier database, sharing the same Redis, left under the same key.
Such a stale mark is ignored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime

import redis

from engine import cache
from engine.clock import as_utc

log = logging.getLogger(__name__)

TTL_SECONDS = 24 * 3600
WARNING_INTERVAL_SECONDS = 60.0
_failed_writes = 0
_last_warning = -WARNING_INTERVAL_SECONDS


def key_name(idempotency_key: str) -> str:
    return f"idempotency:{idempotency_key}"


def _stamp(created_at: datetime) -> str:
    return as_utc(created_at).strftime("%Y%m%dT%H%M%S.%fZ")


def accepted_sids(alerts: Iterable[tuple[str, datetime]]) -> dict[str, str]:
    """Return the SIDs marked for (key, created_at) pairs, by key.

    Keys without a readable mark, and marks stamped with another creation
    time, are left out. A mark without a stamp, written before stamps
    existed, still counts.
    """
    requested = list(alerts)
    if not requested:
        return {}
    store = cache.store()
    names = [key_name(key) for key, _created in requested]
    try:
        values = store.mget(names) if hasattr(store, "mget") else [store.get(n) for n in names]
    except redis.RedisError as exc:
        log.warning("reading %d idempotency marks failed (%s); relying on the database "
                    "and Twilio lookups", len(names), exc)
        return {}
    found = {}
    for (key, created_at), value in zip(requested, values):
        if value is None:
            continue
        sid, _space, stamp = (value.decode() if isinstance(value, bytes) else str(value)
                              ).partition(" ")
        if stamp and stamp != _stamp(created_at):
            log.info("ignoring the idempotency mark for %s: it belongs to an alert created "
                     "at %s, not %s", key, stamp, _stamp(created_at))
            continue
        found[key] = sid
    return found


def mark_accepted(idempotency_key: str, sid: str, created_at: datetime) -> None:
    """Record that Twilio accepted the alert created at ``created_at`` as ``sid``."""
    global _failed_writes, _last_warning
    try:
        cache.store().set(key_name(idempotency_key), f"{sid} {_stamp(created_at)}",
                          ex=TTL_SECONDS)
    except redis.RedisError as exc:
        # With Redis down every send fails here. One warning a minute sums
        # up the failures, and the rest go to the debug log.
        _failed_writes += 1
        now = time.monotonic()
        if now - _last_warning >= WARNING_INTERVAL_SECONDS:
            log.warning("writing idempotency marks failed %d time(s) since the last warning, "
                        "latest for %s (sid %s): %s", _failed_writes, idempotency_key, sid, exc)
            _failed_writes, _last_warning = 0, now
        else:
            log.debug("writing idempotency mark for %s (sid %s) failed: %s", idempotency_key,
                      sid, exc)


def forget(idempotency_key: str) -> None:
    """Drop the mark, so that an operator's retry sends a new message."""
    try:
        cache.store().delete(key_name(idempotency_key))
    except redis.RedisError as exc:
        log.warning("deleting idempotency mark for %s failed: %s", idempotency_key, exc)
