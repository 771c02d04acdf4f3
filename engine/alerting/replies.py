"""Inbound WhatsApp messages: open the 24-hour window and act on the customer's reply.

"1" acknowledges the decision, "2" returns its details, "3" dismisses it, and
anything else gets a short help text. A command applies to the alert the
customer replied to with WhatsApp's reply feature, or to the alert whose Ref
it quotes ("2 RCABCD2345"), or else to the latest open alert sent to that number.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.alerting import outbox, replies_text, windows
from engine.decisions.lifecycle import TransitionError, set_status
from engine.models import Alert, Customer, Decision, InboundMessage
from engine.storage import insert_ignore

log = logging.getLogger(__name__)

COMMANDS = {"1": "ACKNOWLEDGE", "2": "DETAILS", "3": "DISMISS"}
_COMMAND = re.compile(r"^\s*([123])(?![0-9])")
_REFERENCE = re.compile(r"\b(RC[A-Z2-7]{8})\b")
OPEN_STATUSES = ("OPEN", "ACKNOWLEDGED")


@dataclass
class InboundResult:
    command: str
    outcome: str
    reply_alert_id: int | None = None
    duplicate: bool = False


def parse(body: str) -> tuple[str, str | None]:
    """Return the command in a reply and the Ref it quotes, if any."""
    match = _COMMAND.match(body or "")
    reference = _REFERENCE.search((body or "").upper())
    command = COMMANDS[match.group(1)] if match else "HELP"
    return command, reference.group(1) if reference else None


def sender_number(value: str | None) -> str:
    """``whatsapp:+447700900123`` -> ``+447700900123``."""
    text = (value or "").strip()
    return text.split(":", 1)[1] if text.lower().startswith("whatsapp:") else text


def handle_inbound(session: Session, form: Mapping[str, str], now: datetime) -> InboundResult:
    """Record an inbound message, act on it and queue the reply, once per message SID."""
    sid = form.get("MessageSid") or form.get("SmsMessageSid")
    sender = sender_number(form.get("From"))
    if not sid or not sender:
        raise ValueError("inbound message without MessageSid or From")
    body = form.get("Body") or ""
    command, reference = parse(body)

    inserted = insert_ignore(session, InboundMessage.__table__, [{
        "message_sid": sid, "sender": sender, "body": body[:4000], "command": command,
        "received_at": now,
    }], ["message_sid"])
    if not inserted:
        log.info("inbound message %s from %s already handled", sid, sender)
        return InboundResult(command, "duplicate", duplicate=True)
    inbound = session.scalars(
        select(InboundMessage).where(InboundMessage.message_sid == sid)
    ).one()
    windows.record_inbound(session, sender, body, now)

    customer = session.scalars(
        select(Customer).where(Customer.whatsapp_number == sender).order_by(Customer.id)
    ).first()
    if customer is None:
        inbound.outcome = "unknown sender: no reply"
        log.warning("inbound message %s from %s: no customer has this number, no reply sent",
                    sid, sender)
        return InboundResult(command, inbound.outcome)
    inbound.customer_id = customer.id

    answered = _answered_alert(session, sender, reference, form.get("OriginalRepliedMessageSid"))
    decision = session.get(Decision, answered.decision_id) if answered is not None else None
    text, outcome = _act(session, command, decision, customer, sender, reference, answered)
    inbound.answered_alert_id = answered.id if answered is not None else None
    inbound.decision_id = decision.id if decision is not None else None
    inbound.outcome = outcome[:200]
    inbound.reply_alert_id = outbox.enqueue_reply(session, sid, customer.id, sender, text, now,
                                                  decision=decision)
    log.info("inbound %s from %s (customer %s): %s on decision %s -> %s", sid, sender,
             customer.id, command, inbound.decision_id, outcome)
    return InboundResult(command, outcome, inbound.reply_alert_id)


def _answered_alert(session: Session, sender: str, reference: str | None,
                    replied_sid: str | None) -> Alert | None:
    with_decision = (Alert.recipient == sender, Alert.decision_id.is_not(None))
    if reference:
        return session.scalars(
            select(Alert).where(*with_decision, Alert.reference == reference)
        ).first()
    if replied_sid:
        alert = session.scalars(
            select(Alert).where(*with_decision, Alert.twilio_sid == replied_sid)
        ).first()
        if alert is not None:
            return alert
    return session.scalars(
        select(Alert)
        .join(Decision, Decision.id == Alert.decision_id)
        .where(*with_decision, Alert.kind == "DECISION", Alert.sent_at.is_not(None),
               Decision.status.in_(OPEN_STATUSES), Decision.is_expired.is_(False))
        .order_by(Alert.sent_at.desc(), Alert.id.desc())
        .limit(1)
    ).first()


def _act(session: Session, command: str, decision: Decision | None, customer: Customer,
         sender: str, reference: str | None, answered: Alert | None) -> tuple[str, str]:
    """Carry out the command and return the reply text and a short outcome for the log."""
    if command == "HELP":
        return replies_text.HELP, "help sent"
    if decision is None:
        missing = reference if answered is None else None
        return replies_text.no_alert(missing), "no alert to act on"
    if command == "DETAILS":
        return replies_text.details(decision, customer), "details sent"

    status, verb = (("ACKNOWLEDGED", "acknowledged") if command == "ACKNOWLEDGE"
                    else ("DISMISSED", "dismissed"))
    try:
        set_status(session, decision.id, status, actor=f"whatsapp:{sender}",
                   reason=f"WhatsApp reply to alert {answered.id}")
    except TransitionError:
        return replies_text.not_allowed(decision, verb), f"decision already {decision.status}"
    if status == "ACKNOWLEDGED":
        return replies_text.acknowledged(decision), "acknowledged"
    return replies_text.dismissed(decision), "dismissed"
