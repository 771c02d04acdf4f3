"""The per-alert event log: every send, retry, deferral and status callback."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from engine.models import MessageEvent


def event(alert_id: int | None, source: str, name: str, at: datetime, *,
          status: str | None = None, sid: str | None = None, code: str | None = None,
          detail: str | None = None) -> dict:
    """Build one ``message_events`` row for a bulk insert."""
    return {
        "alert_id": alert_id,
        "message_sid": sid,
        "source": source,
        "event": name[:24],
        "status": status,
        "error_code": code,
        "detail": detail[:2000] if detail else None,
        "at": at,
    }


def record(session: Session, rows: list[dict]) -> None:
    if rows:
        session.execute(insert(MessageEvent), rows)
