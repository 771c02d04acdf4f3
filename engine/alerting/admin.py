"""Operator actions on single alerts: retry and cancel."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine import audit
from engine.models import Alert
from engine.models.base import utcnow

RETRYABLE = ("FAILED", "DEAD")
CANCELLABLE = ("PENDING", "FAILED", "DEAD")


class AlertActionError(ValueError):
    """Raised when an alert cannot be retried or cancelled in its current status."""


def _load(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise AlertActionError(f"alert {alert_id} not found")
    return alert


def retry_alert(session: Session, alert_id: int, actor: str) -> Alert:
    """Put a failed alert back in the queue for an immediate attempt."""
    alert = _load(session, alert_id)
    if alert.status not in RETRYABLE:
        raise AlertActionError(
            f"alert {alert_id} is {alert.status}; only {', '.join(RETRYABLE)} alerts can be retried"
        )
    previous = alert.status
    alert.status = "PENDING"
    alert.next_attempt_at = utcnow()
    alert.claimed_by = None
    alert.claimed_until = None
    audit.record(session, actor, "alert.retry", f"alert:{alert_id}", {"from": previous})
    return alert


def cancel_alert(session: Session, alert_id: int, actor: str) -> Alert:
    alert = _load(session, alert_id)
    if alert.status not in CANCELLABLE:
        raise AlertActionError(
            f"alert {alert_id} is {alert.status}; only {', '.join(CANCELLABLE)} alerts can be cancelled"
        )
    previous = alert.status
    alert.status = "CANCELLED"
    audit.record(session, actor, "alert.cancel", f"alert:{alert_id}", {"from": previous})
    return alert
