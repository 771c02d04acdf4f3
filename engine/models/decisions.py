"""Decisions: one per customer and event, versioned, with a lifecycle and outcomes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, JSONType, Timestamp, utcnow
from engine.models.sources import BigId

_ACTIVE = text("is_expired = false")
_OUTCOME_PENDING = text("is_expired = true AND outcome IS NULL")


class Decision(Base):
    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint(
            "customer_id", "event_key", "version", name="uq_decisions_version"
        ),
        # At most one active version per customer and event; it also serves
        # the upsert's lookup of the current version.
        Index("uq_decisions_active", "customer_id", "event_key", unique=True,
              postgresql_where=_ACTIVE, sqlite_where=_ACTIVE),
        Index("ix_decisions_active_customer", "is_expired", "customer_id"),
        Index("ix_decisions_created_at", "created_at"),
        Index("ix_decisions_status", "status"),
        Index("ix_decisions_expires_at", "expires_at"),
        # Read-model indexes: customer activity, severity trends by wall and
        # domain time, and decisions made while a circuit was open.
        Index("ix_decisions_customer_created", "customer_id", "created_at"),
        # Covers the active book, so the overview and exposure sums read only this index.
        Index("ix_decisions_active_book", "customer_id",
              postgresql_include=["exposure_usd", "expected_loss_usd", "severity", "chokepoint",
                                  "status", "shipment_count"],
              postgresql_where=text("NOT is_expired"), sqlite_where=text("is_expired = 0")),
        Index("ix_decisions_created_severity", "created_at", "severity",
              postgresql_include=["exposure_usd"]),
        Index("ix_decisions_as_of_severity", "as_of", "severity",
              postgresql_include=["exposure_usd"]),
        Index(
            "ix_decisions_circuits",
            literal_column("(provenance -> 'circuits')").label("circuits"),
            postgresql_using="gin",
            postgresql_ops={"circuits": "jsonb_path_ops"},
        ).ddl_if(dialect="postgresql"),
        Index("ix_decisions_outcome_pending", "chokepoint",
              postgresql_where=_OUTCOME_PENDING, sqlite_where=_OUTCOME_PENDING),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE")
    )
    # Identifies the disruption, e.g. "bab_el_mandeb:disruption".
    event_key: Mapped[str] = mapped_column(String(96))
    chokepoint: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)
    # OPEN, ACKNOWLEDGED, ACTED, DISMISSED, SUPERSEDED or EXPIRED.
    status: Mapped[str] = mapped_column(String(16), default="OPEN")
    severity: Mapped[str] = mapped_column(String(16))
    recommended_action: Mapped[str] = mapped_column(String(16))
    exposure_usd: Mapped[float] = mapped_column(Float)
    expected_loss_usd: Mapped[float] = mapped_column(Float)
    action_cost_usd: Mapped[float] = mapped_column(Float)
    net_benefit_usd: Mapped[float] = mapped_column(Float, default=0.0)
    probability: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    shipment_count: Mapped[int] = mapped_column(Integer, default=0)
    deadline: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(Timestamp())
    # True once the row left the active book: at expires_at, or when a newer
    # version superseded it.
    is_expired: Mapped[bool] = mapped_column(Boolean, default=False)
    # Domain time the decision was computed for (the replay clock in replay mode).
    as_of: Mapped[datetime] = mapped_column(Timestamp())
    # The seven answers, rendered as structured JSON for the dashboard and API.
    answers: Mapped[dict] = mapped_column(JSONType)
    provenance: Mapped[dict] = mapped_column(JSONType)
    # Hash of the decision's content; an equal hash means nothing changed.
    fingerprint: Mapped[str] = mapped_column(String(64))
    supersedes_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    # What happened at the chokepoint after expiry, from later observations.
    outcome: Mapped[dict | None] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        Timestamp(), default=utcnow, onupdate=utcnow
    )


class SourceForecast(Base):
    """One scored forecast: a source's probability against what then happened.

    Each signal is scored once per event, against the first outcome window of
    a decision that used it. The source ``riskcast`` scores the engine's own
    combined probability once per event and day.
    """

    __tablename__ = "source_forecasts"
    __table_args__ = (
        UniqueConstraint("source", "forecast_ref", "event_key",
                         name="uq_source_forecasts_key"),
        Index("ix_source_forecasts_source", "source"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    # The signal id, or "<event_key>@<day>" for the engine's forecast.
    forecast_ref: Mapped[str] = mapped_column(String(160))
    event_key: Mapped[str] = mapped_column(String(96))
    chokepoint: Mapped[str] = mapped_column(String(32))
    probability: Mapped[float] = mapped_column(Float)
    disrupted: Mapped[bool] = mapped_column(Boolean)
    decision_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("decisions.id", ondelete="SET NULL"), nullable=True
    )
    window_start: Mapped[datetime] = mapped_column(Timestamp())
    window_end: Mapped[datetime] = mapped_column(Timestamp())
    recorded_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
