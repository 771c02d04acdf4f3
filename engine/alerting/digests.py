"""Digests: one message for the alerts the daily cap held back.

Held alerts wait until the customer's next local day. Then the ones whose
decision is still open are summarised in one DIGEST alert, which is subject to
quiet hours like any other message. The others are dropped.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.alerting import events, keys, messages
from engine.alerting.outbox import alert_row
from engine.models import Alert, Customer, Decision
from engine.storage import insert_ignore

log = logging.getLogger(__name__)

# Lines in one digest; WhatsApp's length limit drops any beyond what fits.
MAX_ITEMS = 20


def build_due(session: Session, now: datetime) -> int:
    """Turn every due batch of HELD alerts into a DIGEST alert; return digests queued."""
    customer_ids = session.scalars(
        select(Alert.customer_id).where(Alert.status == "HELD", Alert.next_attempt_at <= now)
        .distinct().order_by(Alert.customer_id)
    ).all()
    built = 0
    for customer_id in customer_ids:
        built += _build_for(session, customer_id, now)
    return built


def _build_for(session: Session, customer_id: str, now: datetime) -> int:
    # The customer lock keeps two dispatchers from splitting one digest in two.
    customer = session.get(Customer, customer_id, with_for_update=True)
    held = session.scalars(
        select(Alert).where(Alert.customer_id == customer_id, Alert.status == "HELD",
                            Alert.next_attempt_at <= now)
        .order_by(Alert.id).with_for_update()
    ).all()
    if not held or customer is None:
        return 0
    decisions = {d.id: d for d in session.scalars(
        select(Decision).where(Decision.id.in_({a.decision_id for a in held})))}

    current, log_rows = [], []
    for alert in held:
        decision = decisions.get(alert.decision_id)
        if decision is None or decision.is_expired or decision.status not in ("OPEN",
                                                                               "ACKNOWLEDGED"):
            alert.status = "SUPERSEDED" if decision is None or decision.status == "SUPERSEDED" \
                else "CANCELLED"
            log_rows.append(events.event(alert.id, "dispatch", "dropped", now,
                                         status=alert.status,
                                         detail="decision moved on before the digest"))
            continue
        current.append((alert, decision))
    if not current:
        events.record(session, log_rows)
        return 0

    key = keys.digest_key(customer_id, held[0].id)
    lines = [messages.digest_line(d, customer, a.reference) for a, d in current[:MAX_ITEMS]]
    rendered = messages.render_digest(lines, customer.daily_alert_cap, keys.reference_for(key))
    row = alert_row(kind="DIGEST", key=key, customer_id=customer_id,
                    recipient=customer.whatsapp_number, rendered=rendered,
                    urgency="standard", now=now)
    insert_ignore(session, Alert.__table__, [row], ["idempotency_key"])
    digest_id = session.scalar(select(Alert.id).where(Alert.idempotency_key == key))
    for alert, _decision in current:
        alert.status = "DIGESTED"
        alert.digest_id = digest_id
        log_rows.append(events.event(alert.id, "dispatch", "digested", now, status="DIGESTED",
                                     detail=f"summarised in digest alert {digest_id}"))
    events.record(session, log_rows)
    log.info("digest alert %s queued for customer %s with %d held alerts", digest_id,
             customer_id, len(current))
    return 1
