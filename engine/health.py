"""Health of every dependency, for the ops API and the dashboard."""

from __future__ import annotations

import threading
import time
from datetime import datetime

from sqlalchemy import func, select, text

from engine import breakers, cache, heartbeats
from engine.clock import as_utc
from engine.db import current_revision, get_engine, head_revision, session_scope
from engine.models import Alert, PipelineRun, SourceStatus
from engine.models.base import utcnow
from engine.settings import get_settings

QUEUED_STATUSES = ("PENDING", "SENDING")


def _age(value: datetime | None, now: datetime) -> float | None:
    return None if value is None else round((now - as_utc(value)).total_seconds(), 1)


def database_check() -> dict:
    engine = get_engine()
    started = time.perf_counter()
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means the database is unusable
        return {"state": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
    latency = (time.perf_counter() - started) * 1000.0
    result = {"state": "ok", "latency_ms": round(latency, 2)}
    pool = engine.pool
    if hasattr(pool, "checkedout") and hasattr(pool, "size"):
        result["pool"] = {"size": pool.size(), "checked_out": pool.checkedout(),
                          "overflow": max(pool.overflow(), 0)}
    return result


def schema_at_head() -> tuple[bool, str | None, str]:
    current = current_revision(get_engine())
    head = head_revision()
    return current == head, current, head


def redis_check() -> dict:
    ok, latency, error = cache.redis_ping()
    if ok:
        return {"state": "ok", "latency_ms": round(latency, 2)}
    return {"state": "degraded", "error": error}


# A probe scraped hundreds of times a second reuses one report for this long,
# instead of querying the database and Redis for every request.
HEALTH_CACHE_SECONDS = 1.0
_cache_lock = threading.Lock()
_cached: tuple[int, float, dict] | None = None


def cached_full_health(max_age: float = HEALTH_CACHE_SECONDS) -> dict:
    """Return ``full_health()``, reusing a report at most ``max_age`` seconds old.

    The report is tied to the current database engine, so rebuilding the
    engine (new settings) never serves the old report.
    """
    global _cached
    engine_id = id(get_engine())
    with _cache_lock:
        if (_cached is not None and _cached[0] == engine_id
                and time.monotonic() - _cached[1] < max_age):
            return _cached[2]
        report = full_health()
        _cached = (engine_id, time.monotonic(), report)
        return report


def full_health() -> dict:
    now = utcnow()
    checks: dict = {"database": database_check(), "redis": redis_check()}
    checks["circuits"] = breakers.snapshot()
    if checks["database"]["state"] == "ok":
        stale_seconds = get_settings().WORKER_HEARTBEAT_STALE_SECONDS
        with session_scope() as session:
            checks["worker"] = heartbeats.worker_status(session, now, stale_seconds)
            last = session.execute(
                select(PipelineRun.started_at, PipelineRun.status, PipelineRun.replay_at)
                .where(PipelineRun.job == "tick")
                .order_by(PipelineRun.started_at.desc()).limit(1)
            ).first()
            sources = session.scalars(select(SourceStatus)).all()
            queue = session.scalar(
                select(func.count()).select_from(Alert).where(Alert.status.in_(QUEUED_STATUSES))
            )
        checks["last_tick"] = None if last is None else {
            "started_at": as_utc(last.started_at).isoformat(), "status": last.status,
            "age_seconds": _age(last.started_at, now),
            "replay_at": as_utc(last.replay_at).isoformat() if last.replay_at else None,
        }
        checks["sources"] = {
            s.source: {"last_success_age_seconds": _age(s.last_success_at, now),
                       "newest_data_at": as_utc(s.newest_data_at).isoformat() if s.newest_data_at else None}
            for s in sources
        }
        checks["alert_queue_depth"] = int(queue or 0)

    checks["status"] = overall(checks)
    return checks


def overall(checks: dict) -> str:
    if checks["database"]["state"] != "ok":
        return "down"
    degraded = (
        checks["redis"]["state"] != "ok"
        or any(c["state"] != "closed" for c in checks["circuits"].values())
        or checks.get("worker", {}).get("state") != "ok"
    )
    return "degraded" if degraded else "ok"
