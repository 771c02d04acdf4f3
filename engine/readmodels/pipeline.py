"""Pipeline runs, per-job summaries, data age per source and worker heartbeats."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.freshness import REALITY_SOURCES, SIGNAL_SOURCES
from engine.models import PipelineRun, SourceStatus, WorkerHeartbeat
from engine.readmodels.common import as_aware, frame
from engine.settings import get_settings

RUN_COLUMNS = ["id", "job", "worker_id", "status", "started_at", "finished_at",
               "duration_seconds", "replay_at", "signals", "observations", "decisions",
               "alerts", "error"]


def recent_runs(session: Session, job: str | None = None, status: str | None = None,
                limit: int = 200) -> pd.DataFrame:
    query = select(PipelineRun.id, PipelineRun.job, PipelineRun.worker_id, PipelineRun.status,
                   PipelineRun.started_at, PipelineRun.finished_at,
                   PipelineRun.duration_seconds, PipelineRun.replay_at, PipelineRun.signals,
                   PipelineRun.observations, PipelineRun.decisions, PipelineRun.alerts,
                   PipelineRun.error)
    if job:
        query = query.where(PipelineRun.job == job)
    if status:
        query = query.where(PipelineRun.status == status)
    rows = session.execute(query.order_by(PipelineRun.started_at.desc()).limit(limit)).all()
    return frame(rows, RUN_COLUMNS)


def job_summary(session: Session, now: datetime) -> pd.DataFrame:
    """Per job over the last 24 hours: runs, failures, durations and the last run."""
    since = now - timedelta(hours=24)
    rows = session.execute(
        select(PipelineRun.job, func.count(),
               func.count().filter(PipelineRun.status == "failed"),
               func.avg(PipelineRun.duration_seconds), func.max(PipelineRun.duration_seconds),
               func.max(PipelineRun.started_at))
        .where(PipelineRun.started_at > since)
        .group_by(PipelineRun.job)
    ).all()
    result = frame(rows, ["job", "runs_24h", "failed_24h", "avg_seconds", "max_seconds",
                          "last_started_at"])
    last_status = []
    for job in result["job"]:
        last_status.append(session.scalar(
            select(PipelineRun.status).where(PipelineRun.job == job)
            .order_by(PipelineRun.started_at.desc()).limit(1)
        ))
    result["last_status"] = last_status
    return result


def _hours(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return round((as_aware(later) - as_aware(earlier)).total_seconds() / 3600.0, 1)


def source_freshness(session: Session, domain_now: datetime, now: datetime) -> pd.DataFrame:
    """Per source: how old its newest data is (domain time) and when it last answered."""
    circuits = SIGNAL_SOURCES | REALITY_SOURCES
    records = []
    for row in session.scalars(select(SourceStatus).order_by(SourceStatus.source)):
        records.append({
            "source": row.source,
            "kind": "signal" if row.source in SIGNAL_SOURCES else "reality",
            "circuit": circuits.get(row.source, "-"),
            "newest_data_at": as_aware(row.newest_data_at),
            "data_age_hours": _hours(domain_now, row.newest_data_at),
            "last_success_at": as_aware(row.last_success_at),
            "since_success_minutes": None if row.last_success_at is None else round(
                (now - as_aware(row.last_success_at)).total_seconds() / 60.0, 1),
            "last_failure_at": as_aware(row.last_failure_at),
            "last_error": row.last_error,
            "records_total": row.records_total,
            "data_errors_total": row.data_errors_total,
        })
    return pd.DataFrame(records, columns=[
        "source", "kind", "circuit", "newest_data_at", "data_age_hours", "last_success_at",
        "since_success_minutes", "last_failure_at", "last_error", "records_total",
        "data_errors_total"])


def heartbeats(session: Session, now: datetime) -> pd.DataFrame:
    rows = session.execute(
        select(WorkerHeartbeat.worker_id, WorkerHeartbeat.hostname, WorkerHeartbeat.pid,
               WorkerHeartbeat.role, WorkerHeartbeat.beat_at, WorkerHeartbeat.started_at)
        .order_by(WorkerHeartbeat.beat_at.desc())
    ).all()
    result = frame(rows, ["worker_id", "hostname", "pid", "role", "beat_at", "started_at"])
    ages = [round((now - as_aware(b)).total_seconds(), 1) for b in result["beat_at"]]
    result["age_seconds"] = ages
    stale_after = get_settings().WORKER_HEARTBEAT_STALE_SECONDS
    result["stale"] = [a >= stale_after for a in ages]
    return result
