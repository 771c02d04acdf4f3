"""Idempotency keys and the short references printed in messages."""

from __future__ import annotations

import base64
import hashlib


def decision_key(decision_id: int, version: int, recipient: str) -> str:
    """Build the key of a decision version and recipient, unique in the outbox."""
    return f"decision:{decision_id}:v{version}:{recipient}"


def notice_key(decision_id: int, version: int, recipient: str, kind: str) -> str:
    return f"{decision_key(decision_id, version, recipient)}:{kind.lower()}"


def reply_key(inbound_sid: str) -> str:
    return f"reply:{inbound_sid}"


def digest_key(customer_id: str, first_alert_id: int) -> str:
    return f"digest:{customer_id}:{first_alert_id}"


def fallback_key(key: str) -> str:
    return f"{key}:template"


def reference_for(key: str) -> str:
    """"RC" and eight base32 characters derived from ``key``, e.g. RCK3Q7ZD2M.

    Forty bits make a collision between two messages to the same recipient
    negligible; lookups always pair the reference with the recipient.
    """
    # Five bytes are exactly the forty bits that eight base32 characters carry.
    digest = hashlib.sha256(key.encode()).digest()[:5]
    return "RC" + base64.b32encode(digest).decode()
