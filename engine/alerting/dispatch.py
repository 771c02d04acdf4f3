"""Claim due alerts from the outbox and send them.

Claims use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several dispatchers
can work the same queue without taking the same row.
"""

from __future__ import annotations

import logging
import os
import random
import socket
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.alerting.channels import DeliveryError, build_channel
from engine.db import session_scope
from engine.models import Alert
from engine.models.base import utcnow
from engine.settings import get_settings

log = logging.getLogger(__name__)

BATCH = 100
CLAIM_SECONDS = 120
MAX_ATTEMPTS = 6
BASE_BACKOFF_SECONDS = 5.0


def dispatcher_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(session: Session, owner: str, limit: int = BATCH) -> list[Alert]:
    now = utcnow()
    query = (
        select(Alert)
        .where(
            or_(
                Alert.status == "PENDING",
                (Alert.status == "SENDING") & (Alert.claimed_until < now),
            ),
            Alert.next_attempt_at <= now,
        )
        .order_by(Alert.next_attempt_at, Alert.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    alerts = list(session.scalars(query))
    for alert in alerts:
        alert.status = "SENDING"
        alert.claimed_by = owner
        alert.claimed_until = now + timedelta(seconds=CLAIM_SECONDS)
    return alerts


def dispatch_once(limit: int = BATCH) -> dict[str, int]:
    """Send one batch of due alerts; return counts by outcome."""
    owner = dispatcher_id()
    with session_scope() as session:
        claimed = [a.id for a in claim(session, owner, limit)]
    counts = {"sent": 0, "retry": 0, "failed": 0}
    if not claimed:
        return counts
    channel = build_channel(get_settings())
    for alert_id in claimed:
        with session_scope() as session:
            alert = session.get(Alert, alert_id)
            if alert is None or alert.status != "SENDING" or alert.claimed_by != owner:
                continue
            outcome = _send(alert, channel)
            counts[outcome] += 1
    log.info("dispatch: %d claimed, %d sent, %d to retry, %d failed",
             len(claimed), counts["sent"], counts["retry"], counts["failed"])
    return counts


def _send(alert: Alert, channel) -> str:
    alert.attempts += 1
    try:
        result = channel.send(alert)
    except DeliveryError as exc:
        alert.last_error_code = exc.code
        alert.last_error_message = exc.message[:500]
        if exc.retryable and alert.attempts < MAX_ATTEMPTS:
            delay = exc.retry_after or BASE_BACKOFF_SECONDS * 2 ** (alert.attempts - 1)
            alert.status = "PENDING"
            alert.next_attempt_at = utcnow() + timedelta(seconds=delay * random.uniform(1.0, 1.5))
            log.warning("alert %s to %s failed with %s, retrying", alert.id, alert.recipient, exc.code)
            return "retry"
        alert.status = "FAILED" if not exc.retryable else "DEAD"
        log.error("alert %s to %s failed permanently with %s", alert.id, alert.recipient, exc.code)
        return "failed"
    alert.status = "SENT"
    alert.twilio_sid = result.sid
    alert.simulated = result.simulated
    alert.sent_at = utcnow()
    alert.claimed_until = None
    return "sent"


def queue_depth(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    rows = session.execute(select(Alert.status, func.count()).group_by(Alert.status)).all()
    return {status: count for status, count in rows}
