"""Closing notices: a customer hears when a decision they were alerted about ends.

A decision ends when it expires, or when someone other than the customer marks
it ACTED or DISMISSED. A customer who dismissed it by replying 3 already got a
confirmation. A decision whose risk eased is announced by ``outbox.enqueue``
when the new version is queued.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from engine.alerting import messages, outbox
from engine.alerting.status import REACHED
from engine.models import Alert, Customer, Decision, InboundMessage

log = logging.getLogger(__name__)

# Decisions stay valid for at most seven days, so older alerts cannot have open
# decisions behind them.
LOOKBACK = timedelta(days=8)
ENDED = ("EXPIRED", "ACTED", "DISMISSED")


def enqueue_closing_notices(session: Session, now: datetime, limit: int = 500) -> int:
    """Queue one EXPIRED or RESOLVED notice per ended decision; return how many."""
    told = (
        select(Alert.decision_id, Alert.customer_id)
        .where(Alert.kind == "DECISION", Alert.status.in_(REACHED),
               Alert.sent_at >= now - LOOKBACK)
        .distinct().subquery()
    )
    newer = aliased(Decision)
    closing = aliased(Alert)
    rows = session.execute(
        select(Decision, told.c.customer_id)
        .join(told, told.c.decision_id == Decision.id)
        .where(
            Decision.status.in_(ENDED),
            ~exists().where(newer.supersedes_id == Decision.id),
            ~exists().where(closing.decision_id == Decision.id,
                            closing.kind.in_(("EXPIRED", "RESOLVED"))),
            ~exists().where(InboundMessage.decision_id == Decision.id,
                            InboundMessage.command == "DISMISS"),
        )
        .limit(limit)
    ).all()
    if not rows:
        return 0
    customers = {c.id: c for c in session.scalars(
        select(Customer).where(Customer.id.in_({r.customer_id for r in rows})))}
    queued = 0
    for decision, customer_id in rows:
        customer = customers.get(customer_id)
        if customer is None:
            continue
        if decision.status == "EXPIRED":
            kind, text = "EXPIRED", messages.expired_text(decision, customer)
        else:
            kind, text = "RESOLVED", messages.closed_text(decision, decision.status)
        queued += outbox.enqueue_notice(session, kind, decision, customer, text, now)
    if queued:
        log.info("queued %d closing notices", queued)
    return queued
