"""Job periods: fixed time slots that the fleet runs each job in at most once.

A period is ``[anchor + k * interval, anchor + (k + 1) * interval)``. Every
worker computes the same slots, and the worker whose claim row for a slot
goes in first runs it; the others find the row and stand by.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.clock import as_utc
from engine.models import JobPeriod
from engine.models.base import utcnow

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Claim rows older than this are deleted by the cleanup job; only the newest
# one per job matters for counting missed periods.
KEEP_CLAIMS = timedelta(days=7)


@dataclass(frozen=True)
class Schedule:
    """Periods of ``interval`` counted from ``anchor``."""

    interval: timedelta
    anchor: datetime = EPOCH

    def period_start(self, now: datetime) -> datetime:
        return self.anchor + ((now - self.anchor) // self.interval) * self.interval

    def missed_between(self, previous: datetime, current: datetime) -> int:
        """Return how many whole periods lie strictly between two claimed periods."""
        return max(0, (current - previous) // self.interval - 1)


@dataclass(frozen=True)
class Claim:
    """The outcome of one worker's attempt to claim a period."""

    won: bool
    period_start: datetime
    # The worker that had claimed the period when this one lost it.
    holder: str | None = None
    previous: datetime | None = None
    missed: int = 0


def claim_period(session: Session, job: str, schedule: Schedule, period_start: datetime,
                 worker_id: str) -> Claim:
    """Insert the claim row for ``job`` and ``period_start`` unless one exists."""
    previous = session.scalar(
        select(func.max(JobPeriod.period_start))
        .where(JobPeriod.job == job, JobPeriod.period_start < period_start)
    )
    previous = as_utc(previous) if previous is not None else None
    missed = schedule.missed_between(previous, period_start) if previous else 0

    table = JobPeriod.__table__
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(table)
        .values(job=job, period_start=period_start, worker_id=worker_id,
                claimed_at=utcnow(), status="running", missed_before=missed)
        .on_conflict_do_nothing(index_elements=["job", "period_start"])
        .returning(table.c.worker_id)
    )
    if session.execute(statement).first() is not None:
        return Claim(True, period_start, worker_id, previous, missed)

    holder = session.scalar(
        select(JobPeriod.worker_id)
        .where(JobPeriod.job == job, JobPeriod.period_start == period_start)
    )
    return Claim(False, period_start, holder, previous)


def finish_period(session: Session, job: str, period_start: datetime, status: str,
                  error: str | None = None) -> None:
    session.execute(
        update(JobPeriod)
        .where(JobPeriod.job == job, JobPeriod.period_start == period_start)
        .values(status=status, finished_at=utcnow(), error=error)
    )


def running_holder(session: Session, job: str) -> str | None:
    """Return the worker of the newest claim of ``job`` still running, if any."""
    return session.scalar(
        select(JobPeriod.worker_id)
        .where(JobPeriod.job == job, JobPeriod.status == "running")
        .order_by(JobPeriod.period_start.desc())
        .limit(1)
    )


def prune_claims(session: Session, now: datetime) -> int:
    """Delete claim rows older than KEEP_CLAIMS, keeping each job's newest; return how many."""
    newest = (
        select(JobPeriod.job, func.max(JobPeriod.period_start).label("newest"))
        .group_by(JobPeriod.job)
        .subquery()
    )
    result = session.execute(
        delete(JobPeriod).where(
            JobPeriod.period_start < now - KEEP_CLAIMS,
            JobPeriod.period_start
            < select(newest.c.newest).where(newest.c.job == JobPeriod.job).scalar_subquery(),
        )
    )
    return result.rowcount or 0
