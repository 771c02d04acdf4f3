"""Render /metrics: refresh the shared-state gauges, then sum every process's files."""

from __future__ import annotations

import glob
import logging
import os
import re

import redis
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from engine import breakers, metrics
from engine.clock import as_utc
from engine.db import DatabaseBusyError, session_scope
from engine.models import Alert, WorkerHeartbeat
from engine.models.base import utcnow

log = logging.getLogger(__name__)

CIRCUIT_STATE_VALUES = {"closed": 0, "half-open": 1, "half_open": 1, "open": 2}
QUEUED_ALERT_STATUSES = ("PENDING", "SENDING")
_LIVE_GAUGE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


def refresh_shared_gauges() -> None:
    """Set the circuit, queue and heartbeat gauges from Redis and the database.

    A failing source leaves its gauges at their previous values and counts the
    failure in ``riskcast_metrics_refresh_failures_total``; the scrape goes on.
    """
    try:
        _refresh_circuits()
    except redis.RedisError as exc:
        metrics.METRICS_REFRESH_FAILURES.labels("circuits").inc()
        log.warning("metrics: circuit states could not be read: %s", exc)
    try:
        _refresh_from_database()
    except (DatabaseBusyError, SQLAlchemyError) as exc:
        metrics.METRICS_REFRESH_FAILURES.labels("database").inc()
        log.warning("metrics: queue depth and heartbeat age could not be read: %s",
                    type(exc).__name__)


def _refresh_circuits() -> None:
    snapshot = breakers.snapshot()
    open_count = 0
    for name, state in snapshot.items():
        value = CIRCUIT_STATE_VALUES.get(str(state["state"]).lower(), 2)
        metrics.CIRCUIT_STATE.labels(name).set(value)
        open_count += value == 2
    metrics.CIRCUITS_OPEN.set(open_count)


def _refresh_from_database() -> None:
    with session_scope() as session:
        queued = session.scalar(
            select(func.count()).select_from(Alert)
            .where(Alert.status.in_(QUEUED_ALERT_STATUSES))
        )
        beat = session.scalar(select(func.max(WorkerHeartbeat.beat_at)))
    metrics.ALERT_QUEUE_DEPTH.set(int(queued or 0))
    if beat is not None:
        metrics.WORKER_HEARTBEAT_AGE.set((utcnow() - as_utc(beat)).total_seconds())


def forget_dead_processes(path: str | None = None) -> list[int]:
    """Remove the live-gauge files of processes that no longer run; return their ids.

    Pool gauges sum over live processes only. A process that exits normally
    removes its own files at exit, but one ended by a signal cannot, and
    uvicorn 0.55 re-raises the SIGTERM it received after a graceful shutdown.
    Process ids are only meaningful on one host, so the directory must not be
    shared between hosts or pods.
    """
    path = path or metrics.MULTIPROCESS_DIR
    dead = set()
    for file in glob.glob(os.path.join(path, "gauge_live*.db")):
        match = _LIVE_GAUGE_FILE.match(os.path.basename(file))
        if match and not _process_alive(int(match.group(1))):
            dead.add(int(match.group(1)))
    for pid in dead:
        multiprocess.mark_process_dead(pid, path)
        log.info("metrics: removed live gauges of exited process %d", pid)
    return sorted(dead)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def render(path: str | None = None) -> tuple[bytes, str]:
    """Return the Prometheus text of every process writing to ``path``, and its type."""
    path = path or metrics.MULTIPROCESS_DIR
    forget_dead_processes(path)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    return generate_latest(registry), CONTENT_TYPE_LATEST
