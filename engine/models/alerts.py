"""The alert outbox, its event log, inbound WhatsApp messages and conversation windows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, JSONType, Timestamp, utcnow
from engine.models.sources import BigId


class Alert(Base):
    """One WhatsApp message to one recipient, from the outbox to its final status."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_alerts_decision", "decision_id"),
        Index("ix_alerts_created_at", "created_at"),
        Index("ix_alerts_twilio_sid", "twilio_sid"),
        Index("ix_alerts_customer_sent", "customer_id", "sent_at"),
        Index("ix_alerts_recipient_sent", "recipient", "sent_at"),
        Index("ix_alerts_kind_sent", "kind", "sent_at"),
        Index("ix_alerts_recipient_reference", "recipient", "reference"),
        Index("ix_alerts_customer_created", "customer_id", "created_at"),
        # Counting alerts by status reads this small deduplicated index only.
        Index("ix_alerts_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    decision_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("decisions.id", ondelete="SET NULL"), nullable=True
    )
    decision_version: Mapped[int] = mapped_column(Integer, default=1)
    customer_id: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(40))
    # DECISION, EXPIRED, RESOLVED, DIGEST or REPLY
    kind: Mapped[str] = mapped_column(String(16), default="DECISION")
    urgency: Mapped[str] = mapped_column(String(16), default="standard")
    # PENDING, SENDING, SENT, DELIVERED, READ, FAILED, DEAD, CANCELLED, SUPERSEDED,
    # HELD (over the daily cap, waiting for the digest) or DIGESTED
    status: Mapped[str] = mapped_column(String(16), default="PENDING")
    # Sends that got a response other than a rate limit, or whose outcome is unknown.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    # Set when a send starts and cleared once its outcome is known. A row that
    # still has it may have reached Twilio, so it is looked up before any resend.
    send_started_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    last_error_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    twilio_sid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    # Short code printed in the message. With the recipient it names one alert: the
    # customer quotes it in replies and reconciliation finds the message at Twilio by it.
    reference: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    # The template used for the last send; None means the body went as free text.
    content_sid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    content_variables: Mapped[dict | None] = mapped_column(JSONType, nullable=True)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    # The free-text alert that failed with 63016 and that this template send replaces.
    fallback_of_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    # The DIGEST alert that summarised this alert after the daily cap held it back.
    digest_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        Timestamp(), default=utcnow, onupdate=utcnow
    )
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)


class MessageEvent(Base):
    """A step in an alert's life: a send, a retry, a deferral or a Twilio status callback.

    A status callback can arrive before the dispatcher has stored the message SID;
    it is then kept with ``alert_id`` unset and applied once the SID is stored.
    """

    __tablename__ = "message_events"
    __table_args__ = (
        Index("ix_message_events_alert_at", "alert_id", "at"),
        Index("ix_message_events_sid", "message_sid"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=True
    )
    message_sid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # dispatch, reconcile, callback, inbound or operator
    source: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(24))
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class InboundMessage(Base):
    """A WhatsApp message from a recipient, with the command it carried and its effect."""

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_messages_sender_received", "sender", "received_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)
    sender: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    body: Mapped[str] = mapped_column(Text, default="")
    # ACKNOWLEDGE, DETAILS, DISMISS or HELP
    command: Mapped[str] = mapped_column(String(16))
    decision_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    answered_alert_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    reply_alert_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(200), nullable=True)
    received_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class ConversationWindow(Base):
    """The last inbound message per recipient, which opens WhatsApp's 24-hour window."""

    __tablename__ = "conversation_windows"

    recipient: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_inbound_at: Mapped[datetime] = mapped_column(Timestamp())
    last_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    # When Twilio rejected a free-text message with 63016. The window is closed from
    # then until the next inbound message, whatever ``last_inbound_at`` suggests.
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
