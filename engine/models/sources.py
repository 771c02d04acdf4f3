"""What OMEN and ORACLE store: signals, observations, sightings, reconciliations, freshness."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, JSONType, Timestamp, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Signal(Base):
    __tablename__ = "signals"
    __table_args__ = (
        UniqueConstraint("source", "external_id", "observed_at", name="uq_signals_key"),
        Index("ix_signals_chokepoint_observed", "chokepoint", "observed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(200))
    chokepoint: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    probability: Mapped[float] = mapped_column(Float)
    observed_at: Mapped[datetime] = mapped_column(Timestamp())
    title: Mapped[str | None] = mapped_column(Text, nullable=True)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    payload: Mapped[dict | None] = mapped_column(JSONType, nullable=True)
    ingested_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class RealityObservation(Base):
    __tablename__ = "reality_observations"
    __table_args__ = (
        UniqueConstraint(
            "source", "chokepoint", "metric", "observed_at", name="uq_observations_key"
        ),
        Index("ix_observations_chokepoint_observed", "chokepoint", "observed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    chokepoint: Mapped[str] = mapped_column(String(32))
    metric: Mapped[str] = mapped_column(String(48))
    value: Mapped[float] = mapped_column(Float)
    baseline: Mapped[float | None] = mapped_column(Float, nullable=True)
    change_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    observed_at: Mapped[datetime] = mapped_column(Timestamp())
    ingested_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class Reconciliation(Base):
    __tablename__ = "reconciliations"
    __table_args__ = (
        UniqueConstraint("chokepoint", "day", name="uq_reconciliations_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chokepoint: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(32))
    signal_probability: Mapped[float | None] = mapped_column(Float, nullable=True)
    reality_change_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    inputs: Mapped[dict] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class SourceStatus(Base):
    __tablename__ = "source_status"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_success_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    last_failure_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    newest_data_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    records_total: Mapped[int] = mapped_column(Integer, default=0)
    data_errors_total: Mapped[int] = mapped_column(Integer, default=0)


class VesselSighting(Base):
    """A vessel seen inside a chokepoint's area on a day, from AIS positions."""

    __tablename__ = "vessel_sightings"
    __table_args__ = (
        UniqueConstraint("mmsi", "chokepoint", "day", name="uq_vessel_sightings_key"),
        Index("ix_vessel_sightings_chokepoint_day", "chokepoint", "day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    mmsi: Mapped[int] = mapped_column(BigInteger)
    chokepoint: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    first_seen_at: Mapped[datetime] = mapped_column(Timestamp())
    ship_type: Mapped[int | None] = mapped_column(Integer, nullable=True)
    course: Mapped[float | None] = mapped_column(Float, nullable=True)
    destination: Mapped[str | None] = mapped_column(String(64), nullable=True)
    diverting: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(32))
    ingested_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
