"""Freshness of each source's data, for the OMEN and ORACLE health endpoints.

A source's data age is measured against domain time (the replay clock in
replay mode, the wall clock in live mode). Data older than the source's limit
(``{SOURCE}_STALE_SECONDS``) marks the source stale; decisions that use a
stale source should carry lower confidence (``stale_sources``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import breakers, sources
from engine.clock import as_utc, domain_now
from engine.models import SourceStatus
from engine.models.base import utcnow
from engine.settings import Settings, get_settings

SIGNAL_SOURCES = {name: sources.CIRCUITS[name] for name in sources.SIGNAL_SOURCES}
REALITY_SOURCES = {name: sources.CIRCUITS[name] for name in sources.REALITY_SOURCES}
STALE_SETTINGS = {
    "polymarket": "POLYMARKET_STALE_SECONDS",
    "gdelt": "GDELT_STALE_SECONDS",
    "ais": "AIS_STALE_SECONDS",
    "portwatch": "PORTWATCH_STALE_SECONDS",
    "scfi": "FREIGHT_STALE_SECONDS",
}


def stale_after(settings: Settings, source: str) -> int:
    return getattr(settings, STALE_SETTINGS[source])


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value else None


def _status(row: SourceStatus | None, stale: bool, missing: str | None, circuit: str) -> str:
    if missing:
        return "not_configured"
    if row is None or row.last_success_at is None:
        return "failing" if row is not None and row.last_failure_at else "unknown"
    failing = row.last_failure_at and as_utc(row.last_failure_at) > as_utc(row.last_success_at)
    if failing or circuit == "open":
        return "failing"
    if row.newest_data_at is None:
        return "no_data"
    return "stale" if stale else "ok"


def source_report(session: Session, names: dict[str, str], settings: Settings | None = None
                  ) -> dict:
    """Per-source freshness and circuit state, and an overall ok, degraded or down."""
    settings = settings or get_settings()
    as_of = domain_now(session, settings)
    now = utcnow()
    rows = {row.source: row for row in session.scalars(select(SourceStatus))}
    adapters = {adapter.name: adapter for adapter in sources.build(settings)}
    circuits = breakers.snapshot()
    result = {}
    for source, circuit in names.items():
        row = rows.get(source)
        limit = stale_after(settings, source)
        newest = as_utc(row.newest_data_at) if row and row.newest_data_at else None
        age = (as_of - newest).total_seconds() if newest else None
        stale = age is None or age > limit
        missing = adapters[source].missing_configuration()
        success = as_utc(row.last_success_at) if row and row.last_success_at else None
        state = circuits[circuit]["state"]
        result[source] = {
            "status": _status(row, stale, missing, state),
            "mode": settings.SOURCE_MODE,
            "data_age_seconds": None if age is None else round(age, 1),
            "stale": stale,
            "stale_after_seconds": limit,
            "newest_data_at": _iso(newest),
            "last_success_at": _iso(success),
            "last_failure_at": _iso(row.last_failure_at) if row else None,
            "last_error": missing or (row.last_error if row else None),
            "seconds_since_success": round((now - success).total_seconds(), 1)
            if success else None,
            "records_total": row.records_total if row else 0,
            "data_errors_total": row.data_errors_total if row else 0,
            # "circuit" kept its first meaning (the state) for existing readers.
            "circuit": state,
            "circuit_name": circuit,
            "circuit_state": state,
        }
    return {"status": _overall(result), "as_of": as_of.isoformat(), "sources": result}


def _overall(result: dict) -> str:
    statuses = [r["status"] for r in result.values() if r["status"] != "not_configured"]
    if not statuses or all(s in ("failing", "unknown") for s in statuses):
        return "down"
    return "ok" if all(s == "ok" for s in statuses) else "degraded"


def signals_health(session: Session) -> dict:
    """Per-source status of OMEN's signal sources."""
    return source_report(session, SIGNAL_SOURCES)


def oracle_health(session: Session) -> dict:
    """Per-source status of ORACLE's reality sources."""
    return source_report(session, REALITY_SOURCES)


def stale_sources(session: Session, settings: Settings | None = None) -> set[str]:
    """Sources whose newest data is older than their limit (or that have none)."""
    names = {**SIGNAL_SOURCES, **REALITY_SOURCES}
    report = source_report(session, names, settings)
    return {name for name, item in report["sources"].items()
            if item["stale"] and item["status"] != "not_configured"}
