"""How fresh each source's data is, for the OMEN and ORACLE health endpoints."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import breakers
from engine.clock import as_utc
from engine.models import SourceStatus
from engine.models.base import utcnow

SIGNAL_SOURCES = {"polymarket": "polymarket", "gdelt": "news"}
REALITY_SOURCES = {"portwatch": "ais", "scfi": "news", "ais": "ais"}


def _report(session: Session, sources: dict[str, str]) -> dict:
    now = utcnow()
    rows = {row.source: row for row in session.scalars(select(SourceStatus))}
    circuits = breakers.snapshot()
    result = {}
    for source, circuit in sources.items():
        row = rows.get(source)
        success = as_utc(row.last_success_at) if row and row.last_success_at else None
        result[source] = {
            "status": "ok" if success else "unknown",
            "last_success_at": success.isoformat() if success else None,
            "last_failure_at": as_utc(row.last_failure_at).isoformat()
            if row and row.last_failure_at else None,
            "last_error": row.last_error if row else None,
            "newest_data_at": as_utc(row.newest_data_at).isoformat()
            if row and row.newest_data_at else None,
            "seconds_since_success": round((now - success).total_seconds(), 1) if success else None,
            "circuit": circuits[circuit]["state"],
        }
    overall = "ok" if all(r["status"] == "ok" for r in result.values()) else "degraded"
    return {"status": overall, "sources": result}


def signals_health(session: Session) -> dict:
    """Per-source status of OMEN's signal sources."""
    return _report(session, SIGNAL_SOURCES)


def oracle_health(session: Session) -> dict:
    """Per-source status of ORACLE's reality sources."""
    return _report(session, REALITY_SOURCES)
