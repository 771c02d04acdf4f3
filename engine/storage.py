"""Bulk writes that work the same on PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

# Rows per INSERT statement; keeps each statement under SQLite's and
# PostgreSQL's bind-parameter limits for tables of up to ~30 columns.
CHUNK = 1000


def insert_ignore(
    session: Session, table: Table, rows: Sequence[dict], conflict: Sequence[str]
) -> int:
    """Insert rows, skipping those that collide on ``conflict``; return inserted count."""
    if not rows:
        return 0
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    inserted = 0
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        statement = dialect.insert(table).values(list(chunk))
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
        # RETURNING counts the rows actually inserted; rowcount is not
        # reliable for multi-row statements on every driver.
        key = list(table.primary_key.columns)[0]
        inserted += len(session.execute(statement.returning(key)).all())
    return inserted
