"""The action of each scheduled job: thin wrappers over engine functions.

Each action takes the worker id and returns a RunResult. The worker around
them takes the lock, claims the period, records the run and logs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import select, text

from engine import heartbeats
from engine.alerting.dispatch import dispatch_once
from engine.clock import as_utc, domain_now
from engine.db import get_engine, session_scope
from engine.decisions.lifecycle import cleanup_expired
from engine.models import PipelineRun, ReplayState
from engine.models.base import utcnow
from engine.pipeline import tick
from engine.settings import Settings, get_settings
from scheduler import periods, runs
from scheduler.periods import Schedule
from scheduler.runs import RunResult

# Daily cleanup at 03:17 UTC and weekly VACUUM on Sundays at 04:07 UTC: quiet
# hours for European and American customers, off the hour when cron jobs pile up.
CLEANUP_ANCHOR = datetime(2024, 1, 1, 3, 17, tzinfo=timezone.utc)
VACUUM_ANCHOR = datetime(2024, 1, 7, 4, 7, tzinfo=timezone.utc)


@dataclass(frozen=True)
class JobSpec:
    """A scheduled job: its action, its periods and how late a run may still start."""

    name: str
    action: Callable[[str], RunResult]
    schedule: Schedule
    misfire_grace_seconds: int
    # The pipeline tick writes its own pipeline_runs row.
    records_itself: bool = False


def build_jobs(settings: Settings) -> list[JobSpec]:
    tick_every = settings.PIPELINE_INTERVAL_SECONDS
    dispatch_every = settings.DISPATCH_INTERVAL_SECONDS
    jobs = [
        # A run more than one period late gives way to the next period's run.
        JobSpec("tick", tick_action, Schedule(timedelta(seconds=tick_every)), tick_every,
                records_itself=True),
        JobSpec("dispatch", dispatch_action, Schedule(timedelta(seconds=dispatch_every)),
                dispatch_every),
        JobSpec("cleanup", cleanup_action, Schedule(timedelta(days=1), CLEANUP_ANCHOR),
                6 * 3600),
    ]
    if settings.is_postgres:
        jobs.append(JobSpec("vacuum", vacuum_action, Schedule(timedelta(weeks=1), VACUUM_ANCHOR),
                            24 * 3600))
    return jobs


def tick_action(worker_id: str) -> RunResult:
    settings = get_settings()
    with session_scope() as session:
        advance = replay_day_done(session, settings)
    summary = tick(advance=advance, worker_id=worker_id)
    counts = {"signals": summary.signals, "observations": summary.observations,
              "decisions": summary.decisions, "alerts": summary.alerts,
              "expired": summary.expired}
    return RunResult(counts, {"replay_at": summary.replay_at})


def replay_day_done(session, settings: Settings) -> bool:
    """Tell whether the last successful tick already processed the current replay day.

    If it did, the next tick moves the replay clock on. A fresh database, or a
    tick that failed and rolled back, leaves the day unprocessed, so the next
    tick redoes it.
    """
    if settings.SOURCE_MODE != "replay":
        return False
    state = session.get(ReplayState, 1)
    if state is None:
        return False
    last_ok = session.scalar(
        select(PipelineRun.replay_at)
        .where(PipelineRun.job == "tick", PipelineRun.status == "ok",
               PipelineRun.replay_at.is_not(None))
        .order_by(PipelineRun.started_at.desc())
        .limit(1)
    )
    return last_ok is not None and as_utc(last_ok) >= as_utc(state.replay_at)


def dispatch_action(worker_id: str) -> RunResult:
    counts = dispatch_once()
    sent = int(counts.get("sent", 0))
    return RunResult({"alerts": sent, **{k: int(v) for k, v in counts.items() if k != "sent"}},
                     {"sent": sent})


def cleanup_action(worker_id: str) -> RunResult:
    settings = get_settings()
    now = utcnow()
    with session_scope() as session:
        result = cleanup_expired(session, domain_now(session, settings))
        forgotten = heartbeats.forget_old(session, now)
        claims = periods.prune_claims(session, now)
        old_runs = runs.prune_runs(session, now)
    return RunResult(
        {"decisions": result.removed, "heartbeats_deleted": forgotten,
         "claims_deleted": claims, "runs_deleted": old_runs},
        {"exposure_usd": round(result.exposure_usd, 2)},
    )


def vacuum_action(worker_id: str) -> RunResult:
    # VACUUM cannot run inside a transaction block.
    with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE decisions"))
    return RunResult({}, {"table": "decisions"})
