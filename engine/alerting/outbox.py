"""Write alerts into the outbox, in the caller's transaction.

Decision alerts are written in the same transaction as the decision change
that causes them, so a tick that rolls back leaves no alert behind and a tick
that commits always leaves its alerts. The unique idempotency key makes every
write here safe to repeat.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.alerting import keys, messages, templates
from engine.alerting.formatting import MAX_BODY
from engine.alerting.messages import Rendered
from engine.alerting.status import REACHED
from engine.decisions.severity import rank
from engine.models import Alert, Customer, Decision
from engine.models.base import utcnow
from engine.settings import Settings
from engine.storage import insert_ignore

if TYPE_CHECKING:
    from engine.decisions.lifecycle import Change

log = logging.getLogger(__name__)

# Statuses of alerts that have not gone out and can still be replaced.
UNSENT = ("PENDING", "HELD")


def idempotency_key(decision_id: int, version: int, recipient: str) -> str:
    return keys.decision_key(decision_id, version, recipient)


def alert_row(*, kind: str, key: str, customer_id: str, recipient: str, rendered: Rendered,
              urgency: str, now: datetime, decision=None,
              content_sid: str | None = None, fallback_of: Alert | None = None) -> dict:
    """Build an ``alerts`` row for ``insert_ignore``.

    ``rendered`` must carry the reference derived from ``key``.
    """
    source = fallback_of
    return {
        "decision_id": decision.id if decision is not None else (source and source.decision_id),
        "decision_version": (decision.version if decision is not None
                             else source.decision_version if source is not None else 0),
        "customer_id": customer_id,
        "recipient": recipient,
        "kind": kind,
        "urgency": urgency,
        "status": "PENDING",
        "attempts": 0,
        "next_attempt_at": now,
        "idempotency_key": key,
        "reference": keys.reference_for(key),
        "body": rendered.body,
        "content_sid": content_sid,
        "content_variables": rendered.variables or None,
        "simulated": False,
        "fallback_of_id": source.id if source is not None else None,
        "created_at": now,
        "updated_at": now,
    }


def enqueue(session: Session, changes: Sequence[Change]) -> int:
    """Queue the alerts that decision changes cause; return how many were queued.

    A new version replaces the unsent alert of the version it supersedes. A
    customer who received the old version gets the new one as an update. When
    the new severity is below the customer's minimum, they hear that the risk eased.
    """
    if not changes:
        return 0
    now = utcnow()
    superseded = [c.superseded_id for c in changes if c.superseded_id is not None]
    if superseded:
        session.execute(
            update(Alert)
            .where(Alert.decision_id.in_(superseded), Alert.status.in_(UNSENT))
            .values(status="SUPERSEDED", updated_at=now)
        )

    # The four columns an alert needs, not whole customer objects.
    customers = {
        c.id: c
        for c in session.execute(
            select(Customer.id, Customer.min_severity, Customer.whatsapp_number,
                   Customer.timezone)
            .where(Customer.id.in_({c.customer_id for c in changes}))
        )
    }
    alerted = _alerted_decisions(session, superseded)
    eased = [c.superseded_id for c in changes if c.superseded_id in alerted
             and rank(c.severity) < rank(customers[c.customer_id].min_severity)]
    # A change that carries its stored row renders from it; only the others,
    # and the versions an eased notice quotes, are read back.
    decisions = {c.decision_id: SimpleNamespace(**c.row) for c in changes if c.row is not None}
    to_read = [c.decision_id for c in changes if c.row is None] + eased
    if to_read:
        decisions.update(
            (d.id, d) for d in session.scalars(select(Decision).where(Decision.id.in_(to_read)))
        )

    rows = []
    for change in changes:
        customer = customers[change.customer_id]
        decision = decisions[change.decision_id]
        was_alerted = change.superseded_id in alerted
        if rank(change.severity) < rank(customer.min_severity):
            if was_alerted:
                rows.append(_eased_row(decisions[change.superseded_id], decision, customer, now))
            continue
        key = idempotency_key(decision.id, decision.version, customer.whatsapp_number)
        rendered = messages.render_decision(decision, customer, keys.reference_for(key),
                                            is_update=was_alerted)
        rows.append(alert_row(kind="DECISION", key=key, customer_id=customer.id,
                              recipient=customer.whatsapp_number, rendered=rendered,
                              urgency=messages.urgency_for(decision), now=now,
                              decision=decision))
    return insert_ignore(session, Alert.__table__, rows, ["idempotency_key"])


def _alerted_decisions(session: Session, decision_ids: list[int]) -> set[int]:
    """Return the decisions among ``decision_ids`` whose alert reached the customer."""
    if not decision_ids:
        return set()
    return set(session.scalars(
        select(Alert.decision_id).where(
            Alert.decision_id.in_(decision_ids), Alert.kind == "DECISION",
            Alert.status.in_(REACHED),
        )
    ))


def _eased_row(old: Decision, new: Decision, customer: Customer, now: datetime) -> dict:
    recipient = customer.whatsapp_number
    key = keys.notice_key(new.id, new.version, recipient, "eased")
    rendered = messages.render_notice(messages.eased_text(old, new, customer),
                                      keys.reference_for(key))
    return alert_row(kind="RESOLVED", key=key, customer_id=customer.id, recipient=recipient,
                     rendered=rendered, urgency="watch", now=now, decision=new)


def enqueue_notice(session: Session, kind: str, decision: Decision, customer: Customer,
                   text: str, now: datetime) -> int:
    """Queue an EXPIRED or RESOLVED notice about ``decision``; return 1 if it is new."""
    recipient = customer.whatsapp_number
    key = keys.notice_key(decision.id, decision.version, recipient, kind)
    rendered = messages.render_notice(text, keys.reference_for(key))
    row = alert_row(kind=kind, key=key, customer_id=customer.id, recipient=recipient,
                    rendered=rendered, urgency="standard", now=now, decision=decision)
    return insert_ignore(session, Alert.__table__, [row], ["idempotency_key"])


def enqueue_reply(session: Session, inbound_sid: str, customer_id: str, recipient: str,
                  text: str, now: datetime, decision: Decision | None = None) -> int | None:
    """Queue the reply to an inbound message and return its alert id.

    The key is the inbound message's SID, so a webhook that Twilio delivers
    twice still produces one reply.
    """
    key = keys.reply_key(inbound_sid)
    reference = keys.reference_for(key)
    body = f"{text}\nRef {reference}"
    row = alert_row(kind="REPLY", key=key, customer_id=customer_id, recipient=recipient,
                    rendered=Rendered(body[:MAX_BODY]), urgency="standard",
                    now=now, decision=decision)
    insert_ignore(session, Alert.__table__, [row], ["idempotency_key"])
    return session.scalar(select(Alert.id).where(Alert.idempotency_key == key))


def enqueue_template_fallback(session: Session, alert: Alert, settings: Settings,
                              now: datetime) -> int | None:
    """Queue the approved-template copy of a free-text alert that failed with 63016.

    Returns the new alert's id. Returns None when the failed alert already was a
    template or no template exists for its kind, and then it stays FAILED. The
    copy has its own key and reference, so the lookup at Twilio can tell it from
    the failed free-text message.
    """
    if alert.content_sid is not None or alert.fallback_of_id is not None:
        return None
    content_sid = templates.content_sid_for(alert.kind, settings)
    if content_sid is None:
        return None
    key = keys.fallback_key(alert.idempotency_key)
    reference = keys.reference_for(key)
    variables = {
        name: reference if value == alert.reference else value
        for name, value in (alert.content_variables or {}).items()
    }
    body = alert.body.replace(f"Ref {alert.reference}", f"Ref {reference}")
    row = alert_row(kind=alert.kind, key=key, customer_id=alert.customer_id,
                    recipient=alert.recipient, rendered=Rendered(body, variables),
                    urgency=alert.urgency, now=now, content_sid=content_sid, fallback_of=alert)
    insert_ignore(session, Alert.__table__, [row], ["idempotency_key"])
    new_id = session.scalar(select(Alert.id).where(Alert.idempotency_key == key))
    log.info("alert %s to %s failed outside the WhatsApp window: template copy queued as "
             "alert %s", alert.id, alert.recipient, new_id)
    return new_id
