"""Generate decisions on request, for one customer or the whole book."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import breakers
from engine.alerting import outbox
from engine.clock import domain_now
from engine.decisions import events as event_assessment
from engine.decisions import lifecycle
from engine.decisions.generate import draft_decisions, load_open_shipments
from engine.models import Customer, Decision
from engine.settings import Settings


class UnknownCustomerError(LookupError):
    """Raised when decisions are requested for a customer id that does not exist."""


def generate(session: Session, settings: Settings, customer_id: str | None = None) -> list[Decision]:
    """Regenerate decisions now; return the customer's (or every) active decision."""
    if customer_id is not None and session.get(Customer, customer_id) is None:
        raise UnknownCustomerError(f"customer {customer_id!r} not found")
    as_of = domain_now(session, settings)
    events = event_assessment.assess(session, as_of)
    shipments = load_open_shipments(session, as_of)
    if customer_id is not None:
        shipments = shipments[shipments["customer_id"] == customer_id]
    circuits = {name: state["state"] for name, state in breakers.snapshot().items()}
    changes = lifecycle.upsert(session, draft_decisions(events, shipments, as_of, circuits))
    outbox.enqueue(session, changes)

    query = select(Decision).where(
        Decision.is_expired.is_(False), Decision.status.notin_(lifecycle.CLOSED)
    )
    if customer_id is not None:
        query = query.where(Decision.customer_id == customer_id)
    return list(session.scalars(query.order_by(Decision.expected_loss_usd.desc())))
