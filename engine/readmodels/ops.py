"""Maintenance views: table health on PostgreSQL, cache size, the audit log."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from engine import cache
from engine.models import AuditEntry, Base
from engine.readmodels.common import frame, is_postgres

CACHE_COUNT_LIMIT = 10_000


def table_stats(session: Session) -> pd.DataFrame:
    """Live and dead rows, size and last (auto)vacuum per RISKCAST table (PostgreSQL)."""
    if not is_postgres(session):
        return pd.DataFrame()
    rows = session.execute(
        text(
            "SELECT relname, n_live_tup, n_dead_tup, "
            "pg_total_relation_size(relid) AS bytes, last_vacuum, last_autovacuum, "
            "last_analyze, last_autoanalyze FROM pg_stat_user_tables "
            "WHERE relname = ANY(:names) ORDER BY pg_total_relation_size(relid) DESC"
        ),
        {"names": sorted(Base.metadata.tables)},
    ).all()
    return frame(rows, ["table", "live_rows", "dead_rows", "bytes", "last_vacuum",
                        "last_autovacuum", "last_analyze", "last_autoanalyze"])


def decision_cache_keys(limit: int = CACHE_COUNT_LIMIT) -> tuple[int, bool]:
    """Count ``decision:*`` keys up to ``limit``; return (count, whether capped)."""
    count = 0
    for _ in cache.store().scan_iter(match="decision:*"):
        count += 1
        if count >= limit:
            return count, True
    return count, False


def audit_log(session: Session, action_prefix: str = "", limit: int = 200) -> pd.DataFrame:
    query = select(AuditEntry.at, AuditEntry.actor, AuditEntry.action, AuditEntry.target,
                   AuditEntry.reason, AuditEntry.result)
    if action_prefix:
        query = query.where(AuditEntry.action.startswith(action_prefix))
    rows = session.execute(query.order_by(AuditEntry.at.desc()).limit(limit)).all()
    return frame(rows, ["at", "actor", "action", "target", "reason", "result"])


def audit_count(session: Session, action: str) -> int:
    return int(session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
    ) or 0)

