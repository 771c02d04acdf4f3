"""Filters and SQL helpers shared by the read models."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
from sqlalchemy import Integer, cast, false, func, literal_column, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from engine.models import Decision

# Active means "still in the book": not expired, not replaced by a newer version.
# "= false", not "IS false": only the former matches the partial index
# ix_decisions_active_book.
ACTIVE = Decision.is_expired == false()
CURRENT = Decision.status.notin_(("SUPERSEDED", "EXPIRED"))
SEVERITY_ORDER = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
_EPOCH = datetime(2000, 1, 1)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# Memory for one hash aggregation over the whole active book. With the
# server's default of 4 MB, grouping a million decisions by chokepoint and
# customer spills a sort to disk and takes about twice as long.
AGGREGATION_WORK_MEM = "64MB"


def room_to_aggregate(session: Session) -> None:
    """Let the rest of this transaction hash-aggregate in memory, on PostgreSQL."""
    if is_postgres(session):
        session.execute(text(f"SET LOCAL work_mem = '{AGGREGATION_WORK_MEM}'"))


def time_bucket(session: Session, column, seconds: int) -> ColumnElement:
    """Floor ``column`` to ``seconds``-wide UTC buckets, in SQL."""
    if is_postgres(session):
        # Literals, not bind parameters, so that GROUP BY matches the SELECT
        # expression and PostgreSQL computes it once per row.
        return func.date_bin(
            text(f"interval '{int(seconds)} seconds'"),
            func.timezone(literal_column("'UTC'"), column),
            literal_column(f"timestamp '{_EPOCH:%Y-%m-%d}'"),
        )
    epoch = cast(func.strftime("%s", column), Integer)
    return func.datetime((epoch / seconds) * seconds, "unixepoch")


def utc_series(values) -> pd.Series:
    """Convert bucket values from either dialect to UTC timestamps."""
    return pd.to_datetime(pd.Series(values), utc=True)


def as_aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def frame(rows, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)
