"""Write alerts into the outbox in the same transaction as the decision change."""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.alerting.messages import URGENCY_BY_SEVERITY, render_decision
from engine.decisions.lifecycle import Change
from engine.decisions.severity import rank
from engine.models import Alert, Customer, Decision
from engine.models.base import utcnow
from engine.storage import insert_ignore

log = logging.getLogger(__name__)


def idempotency_key(decision_id: int, version: int, recipient: str) -> str:
    return f"decision:{decision_id}:v{version}:{recipient}"


def enqueue(session: Session, changes: list[Change]) -> int:
    """Queue one alert per changed decision whose severity the customer wants."""
    if not changes:
        return 0
    superseded = [c.superseded_id for c in changes if c.superseded_id is not None]
    if superseded:
        # A newer version replaces a message that has not gone out yet.
        session.execute(
            update(Alert)
            .where(Alert.decision_id.in_(superseded), Alert.status == "PENDING")
            .values(status="SUPERSEDED", updated_at=utcnow())
        )

    decisions = {
        d.id: d
        for d in session.scalars(
            select(Decision).where(Decision.id.in_([c.decision_id for c in changes]))
        )
    }
    customers = {
        c.id: c
        for c in session.scalars(
            select(Customer).where(Customer.id.in_({c.customer_id for c in changes}))
        )
    }
    rows = []
    for change in changes:
        customer = customers[change.customer_id]
        if rank(change.severity) < rank(customer.min_severity):
            continue
        decision = decisions[change.decision_id]
        rows.append({
            "decision_id": decision.id,
            "decision_version": decision.version,
            "customer_id": customer.id,
            "recipient": customer.whatsapp_number,
            "kind": "DECISION",
            "urgency": URGENCY_BY_SEVERITY.get(decision.severity, "standard"),
            "status": "PENDING",
            "next_attempt_at": utcnow(),
            "idempotency_key": idempotency_key(decision.id, decision.version,
                                               customer.whatsapp_number),
            "body": render_decision(decision, customer),
            "created_at": utcnow(),
            "updated_at": utcnow(),
        })
    return insert_ignore(session, Alert.__table__, rows, ["idempotency_key"])
