"""The alert queue: counts by status, failures by error code, one alert's detail."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from engine.models import Alert, Customer
from engine.readmodels.common import frame

STATUSES = ("PENDING", "SENDING", "SENT", "DELIVERED", "READ", "FAILED", "DEAD",
            "CANCELLED", "SUPERSEDED")
FAILED = ("FAILED", "DEAD")
# Twilio error codes RISKCAST meets most, with what they mean for the operator.
ERROR_CODES = {
    "63016": "Outside WhatsApp's 24-hour window: only an approved template can be sent.",
    "21211": "Invalid 'To' phone number: fix the customer's WhatsApp number.",
    "21610": "The recipient has opted out (STOP); do not retry.",
    "30003": "Unreachable destination handset.",
    "30005": "Unknown destination handset: the number may not exist.",
    "30006": "Landline or unreachable carrier.",
    "30007": "Filtered by the carrier as spam.",
    "30008": "Unknown error from the carrier.",
    "429": "Twilio rate limit: the dispatcher retries after Retry-After.",
}
LIST_COLUMNS = ["id", "decision_id", "customer_id", "customer", "recipient", "urgency",
                "status", "attempts", "last_error_code", "next_attempt_at", "created_at",
                "sent_at", "simulated"]


def alerts_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(Alert.status, func.count()).group_by(Alert.status)).all()
    return {status: int(count) for status, count in rows}


def alert_queue(session: Session, statuses: list[str] | None = None,
                customer: str = "", limit: int = 200) -> pd.DataFrame:
    """Newest alerts first, filtered by status and customer id."""
    query = (
        select(Alert.id, Alert.decision_id, Alert.customer_id, Customer.name, Alert.recipient,
               Alert.urgency, Alert.status, Alert.attempts, Alert.last_error_code,
               Alert.next_attempt_at, Alert.created_at, Alert.sent_at, Alert.simulated)
        .outerjoin(Customer, Customer.id == Alert.customer_id)
    )
    if statuses:
        query = query.where(Alert.status.in_(statuses))
    if customer.strip():
        query = query.where(Alert.customer_id == customer.strip())
    rows = session.execute(query.order_by(Alert.id.desc())
                           .limit(limit)).all()
    return frame(rows, LIST_COLUMNS)


def failures_by_code(session: Session) -> pd.DataFrame:
    """Failed and dead alerts grouped by their last error code."""
    code = func.coalesce(Alert.last_error_code, literal_column("'none'")).label("code")
    rows = session.execute(
        select(code, func.count().label("alerts"), func.max(Alert.updated_at).label("last_seen"),
               func.max(Alert.last_error_message).label("example_message"))
        .where(Alert.status.in_(FAILED))
        .group_by(code)
        .order_by(func.count().desc())
    ).all()
    result = frame(rows, ["code", "alerts", "last_seen", "example_message"])
    result["meaning"] = [ERROR_CODES.get(str(c), "") for c in result["code"]]
    return result


def alert_detail(session: Session, alert_id: int) -> dict | None:
    alert = session.get(Alert, alert_id)
    if alert is None:
        return None
    values = {c.name: getattr(alert, c.name) for c in Alert.__table__.columns}
    values["error_meaning"] = ERROR_CODES.get(str(alert.last_error_code or ""), "")
    return values
