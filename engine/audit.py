"""The audit log of every mutating action, from the API, the dashboard or WhatsApp."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import AuditEntry

log = logging.getLogger(__name__)


def record(session: Session, actor: str, action: str, target: str | None = None,
           result: dict | None = None, reason: str | None = None) -> AuditEntry:
    """Add an audit entry in the caller's transaction."""
    entry = AuditEntry(actor=actor, action=action, target=target, result=result, reason=reason)
    session.add(entry)
    session.flush()
    log.info("audit: %s did %s on %s", actor, action, target or "-")
    return entry


def recent(session: Session, limit: int = 100) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.at.desc()).limit(limit)))
