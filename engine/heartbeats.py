"""Worker heartbeats: each worker writes its own row, and health reads them all."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.clock import as_utc
from engine.models import WorkerHeartbeat

# Heartbeat rows of workers gone longer than this are deleted by the cleanup job.
FORGET_AFTER = timedelta(days=7)
# /health lists at most this many recently seen workers.
LISTED_WORKERS = 50
LISTED_WITHIN = timedelta(days=1)


def current_worker_id() -> str:
    """Return ``hostname:pid``, the id this process uses in heartbeats and job runs."""
    pid = str(os.getpid())
    # worker_id is a 64-character column; a Kubernetes pod name can be 63.
    return f"{socket.gethostname()[: 63 - len(pid)]}:{pid}"


def beat(session: Session, worker_id: str, role: str, now: datetime) -> None:
    """Insert or refresh this worker's heartbeat row with its current role."""
    row = session.get(WorkerHeartbeat, worker_id)
    if row is None:
        hostname, _, pid = worker_id.rpartition(":")
        row = WorkerHeartbeat(worker_id=worker_id, hostname=hostname or worker_id,
                              pid=int(pid) if pid.isdigit() else 0, started_at=now)
        session.add(row)
    row.role = role
    row.beat_at = now


def forget_old(session: Session, now: datetime) -> int:
    """Delete heartbeat rows of workers not seen for FORGET_AFTER; return how many."""
    result = session.execute(
        delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - FORGET_AFTER)
    )
    return result.rowcount or 0


def worker_status(session: Session, now: datetime, stale_seconds: float) -> dict:
    """Summarise the fleet for /health and the dashboard.

    ``state`` is ok while at least one running worker (role other than
    stopped) has beaten within ``stale_seconds``, and stale otherwise.
    """
    rows = session.scalars(
        select(WorkerHeartbeat)
        .where(WorkerHeartbeat.beat_at >= now - LISTED_WITHIN)
        .order_by(WorkerHeartbeat.beat_at.desc())
        .limit(LISTED_WORKERS)
    ).all()
    workers = [_describe(row, now, stale_seconds) for row in rows]
    running_ages = [w["heartbeat_age_seconds"] for w in workers if w["role"] != "stopped"]
    newest = min(running_ages) if running_ages else None
    return {
        "state": "ok" if newest is not None and newest < stale_seconds else "stale",
        "heartbeat_age_seconds": newest,
        "stale_after_seconds": stale_seconds,
        "workers": workers,
    }


def _describe(row: WorkerHeartbeat, now: datetime, stale_seconds: float) -> dict:
    age = round((now - as_utc(row.beat_at)).total_seconds(), 1)
    if row.role == "stopped":
        state = "stopped"
    else:
        state = "ok" if age < stale_seconds else "stale"
    return {
        "worker_id": row.worker_id,
        "role": row.role,
        "state": state,
        "heartbeat_age_seconds": age,
        "started_at": as_utc(row.started_at).isoformat(),
    }
