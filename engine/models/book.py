"""Customers and their shipments: the book that decisions are made for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, JSONType, Timestamp, utcnow


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    whatsapp_number: Mapped[str] = mapped_column(String(32))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # LOW accepts the least risk (acts early); HIGH accepts the most.
    risk_tolerance: Mapped[str] = mapped_column(String(16), default="MEDIUM")
    min_severity: Mapped[str] = mapped_column(String(16), default="MEDIUM")
    quiet_hours_start: Mapped[int | None] = mapped_column(Integer, nullable=True)
    quiet_hours_end: Mapped[int | None] = mapped_column(Integer, nullable=True)
    critical_breaks_quiet: Mapped[bool] = mapped_column(Boolean, default=True)
    daily_alert_cap: Mapped[int] = mapped_column(Integer, default=20)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (
        Index("ix_shipments_customer_status", "customer_id", "status"),
        Index("ix_shipments_status_eta", "status", "eta"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE")
    )
    origin_port: Mapped[str] = mapped_column(String(8))
    destination_port: Mapped[str] = mapped_column(String(8))
    lane: Mapped[str] = mapped_column(String(32))
    # Ordered chokepoint ids the vessel passes, e.g. ["malacca", "bab_el_mandeb"].
    route: Mapped[list] = mapped_column(JSONType)
    cargo_value_usd: Mapped[float] = mapped_column(Float)
    container_count: Mapped[int] = mapped_column(Integer)
    etd: Mapped[datetime] = mapped_column(Timestamp())
    eta: Mapped[datetime] = mapped_column(Timestamp())
    status: Mapped[str] = mapped_column(String(16), default="BOOKED")
    carrier: Mapped[str | None] = mapped_column(String(64), nullable=True)
    vessel: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
