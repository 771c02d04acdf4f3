"""Read functions for the dashboard's alert pages, aggregated in SQL."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.models import Alert, MessageEvent

QUEUE_COLUMNS = [
    "id", "created_at", "customer_id", "recipient", "kind", "urgency", "status", "attempts",
    "next_attempt_at", "last_error_code", "last_error_message", "twilio_sid", "simulated",
    "sent_as", "decision_id", "decision_version", "reference", "fallback_of_id", "sent_at",
    "delivered_at", "read_at",
]


def alert_queue(session: Session, statuses: list[str] | None = None,
                customer_id: str | None = None, error_code: str | None = None,
                limit: int = 200) -> pd.DataFrame:
    """Return the newest alerts with their status, error and how they were sent."""
    query = select(
        Alert.id, Alert.created_at, Alert.customer_id, Alert.recipient, Alert.kind,
        Alert.urgency, Alert.status, Alert.attempts, Alert.next_attempt_at,
        Alert.last_error_code, Alert.last_error_message, Alert.twilio_sid, Alert.simulated,
        Alert.content_sid, Alert.decision_id, Alert.decision_version, Alert.reference,
        Alert.fallback_of_id, Alert.sent_at, Alert.delivered_at, Alert.read_at,
    )
    if statuses:
        query = query.where(Alert.status.in_(statuses))
    if customer_id:
        query = query.where(Alert.customer_id == customer_id)
    if error_code:
        query = query.where(Alert.last_error_code == error_code)
    rows = session.execute(query.order_by(Alert.id.desc()).limit(limit)).all()
    frame = pd.DataFrame(rows, columns=[
        "id", "created_at", "customer_id", "recipient", "kind", "urgency", "status",
        "attempts", "next_attempt_at", "last_error_code", "last_error_message", "twilio_sid",
        "simulated", "content_sid", "decision_id", "decision_version", "reference",
        "fallback_of_id", "sent_at", "delivered_at", "read_at",
    ])
    frame["sent_as"] = frame["content_sid"].map(
        lambda sid: "text" if sid is None or pd.isna(sid) else f"template {sid}")
    return frame[QUEUE_COLUMNS]


def failures_by_code(session: Session, since: datetime) -> pd.DataFrame:
    """FAILED and DEAD alerts since ``since``, counted by error code."""
    rows = session.execute(
        select(Alert.last_error_code, Alert.status, func.count())
        .where(Alert.status.in_(("FAILED", "DEAD")), Alert.updated_at >= since)
        .group_by(Alert.last_error_code, Alert.status)
        .order_by(func.count().desc())
    ).all()
    return pd.DataFrame(rows, columns=["error_code", "status", "alerts"])


def alert_timeline(session: Session, alert_id: int) -> pd.DataFrame:
    """Return every event of one alert, oldest first."""
    rows = session.execute(
        select(MessageEvent.at, MessageEvent.source, MessageEvent.event, MessageEvent.status,
               MessageEvent.error_code, MessageEvent.message_sid, MessageEvent.detail)
        .where(MessageEvent.alert_id == alert_id)
        .order_by(MessageEvent.at, MessageEvent.id)
    ).all()
    return pd.DataFrame(rows, columns=["at", "source", "event", "status", "error_code",
                                       "message_sid", "detail"])


def message_text(session: Session, alert_id: int) -> dict | None:
    """Return the rendered message of one alert: body, template and variables."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        return None
    return {"body": alert.body, "content_sid": alert.content_sid,
            "content_variables": alert.content_variables, "reference": alert.reference,
            "simulated": alert.simulated}
