"""The alert outbox and WhatsApp conversation windows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, JSONType, Timestamp, utcnow
from engine.models.sources import BigId


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_alerts_decision", "decision_id"),
        Index("ix_alerts_created_at", "created_at"),
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
    kind: Mapped[str] = mapped_column(String(16), default="DECISION")
    urgency: Mapped[str] = mapped_column(String(16), default="standard")
    # PENDING, SENDING, SENT, DELIVERED, READ, FAILED, DEAD, CANCELLED, SUPERSEDED
    status: Mapped[str] = mapped_column(String(16), default="PENDING")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    last_error_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    twilio_sid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    body: Mapped[str] = mapped_column(Text)
    content_sid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    content_variables: Mapped[dict | None] = mapped_column(JSONType, nullable=True)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        Timestamp(), default=utcnow, onupdate=utcnow
    )
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)


class ConversationWindow(Base):
    """The last inbound message per recipient, which opens WhatsApp's 24-hour window."""

    __tablename__ = "conversation_windows"

    recipient: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_inbound_at: Mapped[datetime] = mapped_column(Timestamp())
    last_body: Mapped[str | None] = mapped_column(Text, nullable=True)
