"""Operator actions on single alerts: retry and cancel."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine import audit
from engine.alerting import events, idempotency
from engine.models import Alert
from engine.models.base import utcnow

RETRYABLE = ("FAILED", "DEAD")
CANCELLABLE = ("PENDING", "HELD", "FAILED", "DEAD")


class AlertActionError(ValueError):
    """Raised when an alert cannot be retried or cancelled in its current status."""


def _load(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise AlertActionError(f"alert {alert_id} not found")
    return alert


def retry_alert(session: Session, alert_id: int, actor: str) -> Alert:
    """Put a failed alert back in the queue for an immediate attempt.

    A FAILED alert that Twilio had accepted (it failed later, on delivery) is
    sent as a new message: its idempotency mark is dropped. A DEAD alert whose
    last send may have reached Twilio keeps ``send_started_at``, so the
    dispatcher looks that send up before it sends again.
    """
    alert = _load(session, alert_id)
    if alert.status not in RETRYABLE:
        raise AlertActionError(
            f"alert {alert_id} is {alert.status}; only {', '.join(RETRYABLE)} alerts can be "
            "retried"
        )
    previous = alert.status
    now = utcnow()
    if previous == "FAILED":
        idempotency.forget(alert.idempotency_key)
        alert.send_started_at = None
    alert.status = "PENDING"
    alert.attempts = 0
    alert.next_attempt_at = now
    alert.claimed_by = None
    alert.claimed_until = None
    events.record(session, [events.event(alert.id, "operator", "retry", now, status="PENDING",
                                         sid=alert.twilio_sid, detail=f"by {actor}")])
    audit.record(session, actor, "alert.retry", f"alert:{alert_id}", {"from": previous})
    return alert


def cancel_alert(session: Session, alert_id: int, actor: str) -> Alert:
    """Take an alert out of the queue for good."""
    alert = _load(session, alert_id)
    if alert.status not in CANCELLABLE:
        raise AlertActionError(
            f"alert {alert_id} is {alert.status}; only {', '.join(CANCELLABLE)} alerts can be "
            "cancelled"
        )
    previous = alert.status
    alert.status = "CANCELLED"
    events.record(session, [events.event(alert.id, "operator", "cancel", utcnow(),
                                         status="CANCELLED", detail=f"by {actor}")])
    audit.record(session, actor, "alert.cancel", f"alert:{alert_id}", {"from": previous})
    return alert
