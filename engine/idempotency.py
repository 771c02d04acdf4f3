"""Stored responses for POST requests that carry an ``Idempotency-Key`` header.

The first request with a key claims ``idempotency:{key}`` (SET NX), acts, and
stores its response there for 24 hours. A repeat gets that response back
without acting again. The alerter keeps its own markers under the same
``idempotency:`` prefix. So every value written here is a JSON record tagged
with ``RECORD_KIND``, claims never overwrite an existing key, and a key that
contains anything else is reported as taken. Callers should send random keys
(UUIDs), which cannot meet an alerter key at all.

Without Redis, or while Redis fails, records are kept in this process only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass

import redis

from engine import cache

log = logging.getLogger(__name__)

TTL_SECONDS = 24 * 3600
# A claim whose request never finished (a crashed process) frees itself after
# this long; no request the API serves runs anywhere near that.
CLAIM_SECONDS = 600
RECORD_KIND = "riskcast.api-response"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")


class IdempotencyError(Exception):
    """Base class for idempotency failures that the client can fix."""


class InvalidIdempotencyKeyError(IdempotencyError, ValueError):
    """Raised when the header value is empty, too long or not printable ASCII."""


class IdempotencyKeyInUseError(IdempotencyError):
    """Raised when the key belongs to a request still running, or to another component."""


class IdempotencyKeyReusedError(IdempotencyError, ValueError):
    """Raised when the key was first used for a different request."""


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: str
    media_type: str


def redis_key(key: str) -> str:
    return f"idempotency:{key}"


def check_key(key: str) -> str:
    if not KEY_PATTERN.fullmatch(key):
        raise InvalidIdempotencyKeyError(
            f"invalid Idempotency-Key {key[:40]!r}: use 1-255 printable ASCII characters "
            "without spaces, for example a UUID"
        )
    return key


def fingerprint(*parts: str) -> str:
    """Hash the parts that identify a request (method, path, body, caller)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def begin(key: str, request_fingerprint: str) -> StoredResponse | None:
    """Claim ``key`` for a new request, or return the stored response of a finished one.

    Raises ``IdempotencyKeyInUseError`` while the first request still runs or
    when the key contains a value this module did not write, and
    ``IdempotencyKeyReusedError`` when the key was used for another request.
    """
    check_key(key)
    claim = json.dumps({"kind": RECORD_KIND, "state": "running",
                        "fingerprint": request_fingerprint})
    for _ in range(2):
        if _call("set", redis_key(key), claim, ex=CLAIM_SECONDS, nx=True):
            return None
        raw = _call("get", redis_key(key))
        if raw is not None:
            return _stored(key, raw, request_fingerprint)
        # The record expired between SET NX and GET: claim again.
    raise IdempotencyKeyInUseError(
        f"Idempotency-Key {key!r} changed while it was being claimed; retry the request"
    )


def _stored(key: str, raw: bytes | str, request_fingerprint: str) -> StoredResponse:
    record = _parse(raw)
    if record is None:
        raise IdempotencyKeyInUseError(
            f"Idempotency-Key {key!r} is already used by another part of RISKCAST; "
            "send a fresh random key such as a UUID"
        )
    if record.get("fingerprint") != request_fingerprint:
        raise IdempotencyKeyReusedError(
            f"Idempotency-Key {key!r} was first used for a different request "
            f"({record.get('request', 'another method, path, body or API key')}); "
            "send a new key for a new request"
        )
    if record.get("state") != "done":
        raise IdempotencyKeyInUseError(
            f"a request with Idempotency-Key {key!r} is still running; "
            "retry in a few seconds to get its response"
        )
    return StoredResponse(int(record["status_code"]), record["body"], record["media_type"])


def _parse(raw: bytes | str) -> dict | None:
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict) or record.get("kind") != RECORD_KIND:
        return None
    return record


def complete(key: str, request_fingerprint: str, response: StoredResponse,
             request: str) -> None:
    """Store the response of the request that claimed ``key``, for 24 hours."""
    record = json.dumps({
        "kind": RECORD_KIND, "state": "done", "fingerprint": request_fingerprint,
        "request": request, "status_code": response.status_code,
        "body": response.body, "media_type": response.media_type,
    })
    _call("set", redis_key(key), record, ex=TTL_SECONDS)


def release(key: str, request_fingerprint: str) -> None:
    """Drop this request's claim after a failure, so that a retry can act."""
    raw = _call("get", redis_key(key))
    record = _parse(raw) if raw is not None else None
    if record and record.get("state") == "running" \
            and record.get("fingerprint") == request_fingerprint:
        _call("delete", redis_key(key))


def _call(command: str, *args, **kwargs):
    store = cache.store()
    try:
        return getattr(store, command)(*args, **kwargs)
    except redis.RedisError as exc:
        log.warning("idempotency record %s kept in this process because Redis failed: %s",
                    args[0], exc)
        return getattr(cache.memory_store(), command)(*args, **kwargs)
