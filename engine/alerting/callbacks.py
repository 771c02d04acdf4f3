"""Twilio status callbacks: move alerts to DELIVERED, READ or FAILED.

Callbacks can arrive twice, out of order, or before the dispatcher stored the
message SID. A status never moves an alert backwards, and a callback for an
unknown SID is kept in the event log and applied once the SID is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.alerting import events, outbox, windows
from engine.alerting.errors import WINDOW_CLOSED, describe_code
from engine.alerting.status import RANK, from_twilio
from engine.models import Alert, MessageEvent
from engine.settings import Settings

log = logging.getLogger(__name__)

# Buffered callbacks older than this are left alone: their SID belongs to no alert.
ORPHAN_HORIZON = timedelta(days=2)


@dataclass
class StatusUpdate:
    sid: str
    twilio_status: str
    error_code: str | None = None
    error_message: str | None = None

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> StatusUpdate:
        """Read Twilio's callback fields; raises ValueError naming a missing field."""
        sid = form.get("MessageSid") or form.get("SmsSid")
        status = form.get("MessageStatus") or form.get("SmsStatus")
        if not sid or not status:
            missing = "MessageSid" if not sid else "MessageStatus"
            raise ValueError(f"status callback without {missing}")
        code = form.get("ErrorCode") or None
        return cls(sid, status.lower(), code, form.get("ErrorMessage") or None)


def apply_status(session: Session, update: StatusUpdate, now: datetime,
                 settings: Settings) -> str:
    """Apply one callback; return what happened (applied, ignored, buffered)."""
    alert = session.scalars(
        select(Alert).where(Alert.twilio_sid == update.sid).with_for_update()
    ).first()
    if alert is None:
        events.record(session, [events.event(None, "callback", update.twilio_status, now,
                                             sid=update.sid, code=update.error_code,
                                             detail=update.error_message)])
        log.info("status %s for unknown message %s kept until its alert is recorded",
                 update.twilio_status, update.sid)
        return "buffered"
    result = _apply(session, alert, update, now, settings)
    events.record(session, [events.event(alert.id, "callback", update.twilio_status, now,
                                         status=alert.status, sid=update.sid,
                                         code=update.error_code,
                                         detail=update.error_message)])
    return result


def _apply(session: Session, alert: Alert, update: StatusUpdate, now: datetime,
           settings: Settings) -> str:
    target = from_twilio(update.twilio_status)
    if target is None:
        return "ignored"
    current = alert.status
    if target == "FAILED":
        if current in ("DELIVERED", "READ", "FAILED"):
            return "ignored"
        alert.status = "FAILED"
        alert.last_error_code = update.error_code
        alert.last_error_message = update.error_message or describe_code(update.error_code)
        log.warning("alert %s to %s failed at Twilio with %s (%s)", alert.id, alert.recipient,
                    update.error_code, alert.last_error_message)
        if update.error_code == WINDOW_CLOSED:
            windows.mark_closed(session, alert.recipient, now)
            outbox.enqueue_template_fallback(session, alert, settings, now)
        return "applied"
    if current not in RANK or RANK[target] <= RANK[current]:
        return "ignored"
    alert.status = target
    if target in ("DELIVERED", "READ") and alert.delivered_at is None:
        alert.delivered_at = now
    if target == "READ":
        alert.read_at = now
    return "applied"


def apply_buffered(session: Session, sids: Iterable[str], now: datetime,
                   settings: Settings) -> int:
    """Apply callbacks that arrived before their SID was stored; return how many."""
    unique_sids = list(set(sids))
    if not unique_sids:
        return 0
    buffered = session.scalars(
        select(MessageEvent).where(MessageEvent.message_sid.in_(unique_sids),
                                   MessageEvent.alert_id.is_(None),
                                   MessageEvent.source == "callback")
        .order_by(MessageEvent.id).with_for_update(skip_locked=True)
    ).all()
    if not buffered:
        return 0
    alerts = {
        a.twilio_sid: a
        for a in session.scalars(
            select(Alert).where(Alert.twilio_sid.in_({e.message_sid for e in buffered}))
            .with_for_update()
        )
    }
    applied = 0
    for row in buffered:
        alert = alerts.get(row.message_sid)
        if alert is None:
            continue
        update = StatusUpdate(row.message_sid, row.event, row.error_code, row.detail)
        _apply(session, alert, update, now, settings)
        row.alert_id = alert.id
        row.status = alert.status
        applied += 1
    return applied


def apply_orphans(session: Session, now: datetime, settings: Settings) -> int:
    """Sweep buffered callbacks whose SID has meanwhile been stored on an alert.

    The dispatcher applies buffered callbacks right after storing SIDs; this
    catches a callback that was buffered while that happened.
    """
    sids = session.scalars(
        select(MessageEvent.message_sid).where(
            MessageEvent.alert_id.is_(None), MessageEvent.source == "callback",
            MessageEvent.at >= now - ORPHAN_HORIZON,
            MessageEvent.message_sid.in_(select(Alert.twilio_sid)),
        ).limit(500)
    ).all()
    return apply_buffered(session, sids, now, settings)
