"""API keys for the ops API: created once, stored only as a hash, revocable.

A key is 32 random bytes (URL-safe base64) behind the ``rc_`` prefix. With
that much entropy a single SHA-256 is enough to store it: nothing shorter
than the key itself can be brute-forced from the hash, so a slow password
hash would only add latency to every request.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import ApiKey
from engine.models.base import utcnow

log = logging.getLogger(__name__)

KEY_PREFIX = "rc_"
DEFAULT_ROLE = "operator"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ApiKeyError(ValueError):
    """Raised when a key cannot be created or revoked as requested."""


class ApiKeyNotFoundError(ApiKeyError, LookupError):
    """Raised when no API key has the given name."""


@dataclass(frozen=True)
class Principal:
    """The holder of a valid API key, as authenticated by the API."""

    key_id: int
    name: str
    role: str

    @property
    def actor(self) -> str:
        """Return the audit-log actor for this key."""
        return f"api-key:{self.name}"


@dataclass(frozen=True)
class KeyCheck:
    """The outcome of checking a presented key: a principal, or why not."""

    principal: Principal | None
    revoked_at: datetime | None = None
    revoked_name: str | None = None


def hash_key(key: str) -> str:
    """Return the stored form of ``key``."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise ApiKeyError(
            f"invalid API key name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def create(session: Session, name: str, role: str = DEFAULT_ROLE) -> tuple[ApiKey, str]:
    """Store a new key named ``name``; return the row and the key itself.

    The key is returned only here: the database keeps its hash.
    """
    check_name(name)
    existing = session.scalar(select(ApiKey).where(ApiKey.name == name))
    if existing is not None:
        state = "a revoked key" if existing.revoked_at else "an active key"
        raise ApiKeyError(
            f"API key name {name!r} is already used by {state}; choose another name"
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, key_hash=hash_key(key), role=role, created_at=utcnow())
    session.add(row)
    session.flush()
    log.info("api key %s created (id %d, role %s)", name, row.id, role)
    return row, key


def authenticate(session: Session, key: str) -> KeyCheck:
    """Look up a presented key by its hash; revoked and unknown keys give no principal."""
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if row is None:
        return KeyCheck(None)
    if row.revoked_at is not None:
        return KeyCheck(None, revoked_at=row.revoked_at, revoked_name=row.name)
    return KeyCheck(Principal(row.id, row.name, row.role))


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.name)))


def revoke(session: Session, name: str) -> tuple[ApiKey, bool]:
    """Revoke the key named ``name``; return it and whether it was active until now."""
    row = session.scalar(select(ApiKey).where(ApiKey.name == name).with_for_update())
    if row is None:
        raise ApiKeyNotFoundError(
            f"no API key named {name!r}; `python -m api list-keys` shows the names"
        )
    if row.revoked_at is not None:
        return row, False
    row.revoked_at = utcnow()
    session.flush()
    log.info("api key %s revoked (id %d)", name, row.id)
    return row, True
