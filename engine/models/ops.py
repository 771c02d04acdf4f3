"""Operational records: pipeline runs, job periods, replay position, heartbeats, audit, keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, JSONType, Timestamp, utcnow
from engine.models.sources import BigId


class PipelineRun(Base):
    __tablename__ = "pipeline_runs"
    __table_args__ = (
        Index("ix_pipeline_runs_job_started", "job", "started_at"),
        # Workers look up unfinished runs every few seconds; few rows are running.
        Index("ix_pipeline_runs_status_job", "status", "job"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(32), default="tick")
    worker_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    started_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    # running, ok, failed, skipped
    status: Mapped[str] = mapped_column(String(16), default="running")
    replay_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    signals: Mapped[int] = mapped_column(Integer, default=0)
    observations: Mapped[int] = mapped_column(Integer, default=0)
    decisions: Mapped[int] = mapped_column(Integer, default=0)
    alerts: Mapped[int] = mapped_column(Integer, default=0)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    details: Mapped[dict | None] = mapped_column(JSONType, nullable=True)


class ReplayState(Base):
    """The replay clock's position, kept in a single row with id 1."""

    __tablename__ = "replay_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    replay_at: Mapped[datetime] = mapped_column(Timestamp())
    updated_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(128))
    pid: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16), default="standby")
    beat_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    started_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class JobPeriod(Base):
    """A worker's claim on one period of a scheduled job.

    The primary key makes the claim unique, so the fleet runs each job at most
    once per period however many workers fire at the boundary.
    """

    __tablename__ = "job_periods"
    __table_args__ = (Index("ix_job_periods_status", "status"),)

    job: Mapped[str] = mapped_column(String(32), primary_key=True)
    period_start: Mapped[datetime] = mapped_column(Timestamp(), primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    # running, ok, failed
    status: Mapped[str] = mapped_column(String(16), default="running")
    # Periods between the previous claimed period and this one that no worker ran.
    missed_before: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class CircuitEvent(Base):
    __tablename__ = "circuit_events"
    __table_args__ = (Index("ix_circuit_events_name_at", "name", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict | None] = mapped_column(JSONType, nullable=True)
    at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="operator")
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
