"""Operator maintenance actions: clean up, VACUUM ANALYZE, clear the decision cache.

Each action runs under ``engine.oplock`` so that it runs once at a time, and
writes exactly one audit entry naming the person who ran it.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from engine import audit, cache
from engine.decisions import lifecycle
from engine.db import session_scope
from engine.models import Base
from engine.oplock import exclusive, exclusive_connection

log = logging.getLogger(__name__)

VACUUM_TABLES = tuple(sorted(Base.metadata.tables))


class MaintenanceError(RuntimeError):
    """Raised when a maintenance action cannot run here; the message says why."""


def run_cleanup(session: Session, now: datetime, actor: str,
                reason: str | None = None) -> lifecycle.CleanupResult:
    """Expire every decision past ``expires_at`` at domain time ``now``, once."""
    with exclusive(session, "cleanup"):
        result = lifecycle.cleanup_expired(session, now)
        audit.record(session, actor, "decisions.cleanup_expired", "decisions",
                     result.as_dict() | {"as_of": now.isoformat()}, reason)
    return result


def vacuum_analyze(engine: Engine, tables: list[str], actor: str) -> dict[str, float]:
    """Run ``VACUUM ANALYZE`` on each table; return seconds per table."""
    if engine.dialect.name != "postgresql":
        raise MaintenanceError(
            "VACUUM ANALYZE runs on PostgreSQL only; this dashboard uses SQLite, "
            "which needs no scheduled vacuum for RISKCAST's data sizes"
        )
    if not tables:
        raise MaintenanceError("choose at least one table to vacuum")
    unknown = [t for t in tables if t not in VACUUM_TABLES]
    if unknown:
        raise MaintenanceError(
            f"unknown table(s) {', '.join(unknown)}; choose from {', '.join(VACUUM_TABLES)}"
        )
    seconds: dict[str, float] = {}
    # VACUUM cannot run inside a transaction block, hence autocommit.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        with exclusive_connection(connection, "vacuum"):
            for table in tables:
                started = time.perf_counter()
                connection.exec_driver_sql(f'VACUUM ANALYZE "{table}"')
                seconds[table] = round(time.perf_counter() - started, 3)
    with session_scope(engine) as session:
        audit.record(session, actor, "database.vacuum_analyze", ",".join(tables), seconds)
    log.info("VACUUM ANALYZE by %s on %s finished", actor, ",".join(tables))
    return seconds


def clear_decision_cache(session: Session, actor: str) -> dict:
    """Delete every ``decision:*`` cache key; say which store was cleared."""
    with exclusive(session, "clear_decision_cache"):
        if cache.redis_client() is not None:
            ok, _latency, error = cache.redis_ping()
            if not ok:
                raise MaintenanceError(
                    f"Redis is not answering ({error}); the decision cache cannot be "
                    "cleared now. Try again once Redis is back."
                )
            store = "redis"
        else:
            store = "in-process (REDIS_URL is unset, so only this dashboard process)"
        deleted = cache.clear_decision_cache()
        result = {"deleted": deleted, "store": store}
        audit.record(session, actor, "cache.clear_decisions", "decision:*", result)
    return result
