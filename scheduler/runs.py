"""Job runs in ``pipeline_runs``: start, end, outcome and counts of every run.

The pipeline tick writes its own row (engine.pipeline.tick); the other jobs
are recorded here. A run whose worker died, or whose failure could not be
written because the database was down, stays ``running`` until a worker
marks it ``failed`` as abandoned.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from engine.models import JobPeriod, PipelineRun, WorkerHeartbeat
from engine.models.base import utcnow

# pipeline_runs columns a job's counts can fill; other counts go to details.
COUNT_COLUMNS = ("signals", "observations", "decisions", "alerts")
# Run rows older than this are deleted by the cleanup job.
KEEP_RUNS = timedelta(days=90)


@dataclass
class RunResult:
    """Counts and details of one job run, for the summary line and the run row."""

    counts: dict[str, int] = field(default_factory=dict)
    details: dict = field(default_factory=dict)

    def describe(self) -> str:
        return " ".join(f"{name}={value}" for name, value in self.counts.items())


def start_run(session: Session, job: str, worker_id: str) -> int:
    run = PipelineRun(job=job, worker_id=worker_id, status="running")
    session.add(run)
    session.flush()
    return run.id


def finish_run(session: Session, run_id: int, result: RunResult, seconds: float) -> None:
    run = session.get(PipelineRun, run_id)
    run.status = "ok"
    run.finished_at = utcnow()
    run.duration_seconds = round(seconds, 3)
    for name in COUNT_COLUMNS:
        if name in result.counts:
            setattr(run, name, int(result.counts[name]))
    run.details = {**result.counts, **result.details}


def fail_run(session: Session, run_id: int, error: str, seconds: float) -> None:
    run = session.get(PipelineRun, run_id)
    run.status = "failed"
    run.finished_at = utcnow()
    run.duration_seconds = round(seconds, 3)
    run.error = error[:2000]


def reap_abandoned(session: Session, job: str, worker_id: str, stale_before: datetime,
                   current_period: datetime | None = None) -> int:
    """Mark ``running`` rows of ``job`` failed when their worker cannot still be running them.

    The caller holds the job's lock, so its own leftover rows are abandoned,
    and so are those of workers without a fresh heartbeat. Rows without a
    worker id (runs started outside the worker) are left alone, and so is
    the caller's claim on ``current_period``, which it is about to run.
    """
    alive = select(WorkerHeartbeat.worker_id).where(
        WorkerHeartbeat.beat_at >= stale_before, WorkerHeartbeat.role != "stopped"
    )
    abandoned = or_(PipelineRun.worker_id == worker_id, PipelineRun.worker_id.not_in(alive))
    now = utcnow()
    runs = session.execute(
        update(PipelineRun)
        .where(PipelineRun.job == job, PipelineRun.status == "running", abandoned)
        .values(status="failed", finished_at=now,
                error="abandoned: the worker stopped or lost the database before the "
                      "run finished; its transaction rolled back")
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    claim_gone = or_(JobPeriod.worker_id == worker_id, JobPeriod.worker_id.not_in(alive))
    periods = [JobPeriod.job == job, JobPeriod.status == "running", claim_gone]
    if current_period is not None:
        periods.append(JobPeriod.period_start != current_period)
    session.execute(
        update(JobPeriod)
        .where(*periods)
        .values(status="failed", finished_at=now, error="abandoned")
        .execution_options(synchronize_session=False)
    )
    return runs


def reap_own(session: Session, worker_id: str, busy_jobs: Collection[str],
             started_before: datetime) -> int:
    """Mark this worker's ``running`` rows failed for jobs it is not running now.

    Only rows started before ``started_before`` are touched, so a run that
    begins while the caller looks is never taken for a leftover.
    """
    now = utcnow()
    leftover = and_(PipelineRun.worker_id == worker_id, PipelineRun.status == "running",
                    PipelineRun.started_at < started_before)
    if busy_jobs:
        leftover = and_(leftover, PipelineRun.job.not_in(list(busy_jobs)))
    count = session.execute(
        update(PipelineRun).where(leftover)
        .values(status="failed", finished_at=now,
                error="abandoned: the database connection was lost while the run "
                      "was recorded; its transaction rolled back")
        .execution_options(synchronize_session=False)
    ).rowcount or 0
    claims = and_(JobPeriod.worker_id == worker_id, JobPeriod.status == "running",
                  JobPeriod.claimed_at < started_before)
    if busy_jobs:
        claims = and_(claims, JobPeriod.job.not_in(list(busy_jobs)))
    session.execute(
        update(JobPeriod).where(claims)
        .values(status="failed", finished_at=now, error="abandoned")
        .execution_options(synchronize_session=False)
    )
    return count


def prune_runs(session: Session, now: datetime) -> int:
    """Delete finished run rows older than KEEP_RUNS; return how many."""
    result = session.execute(
        delete(PipelineRun).where(PipelineRun.started_at < now - KEEP_RUNS,
                                  PipelineRun.status != "running")
    )
    return result.rowcount or 0
