"""Set-based writes of decision rows: a fixed number of statements per batch on PostgreSQL.

On PostgreSQL new rows get their ids from the sequence in one query and then
travel by ``COPY``. Updates travel as one JSON document that
``jsonb_to_recordset`` turns into a relation, so updating any number of
decisions is a single statement. SQLite, the single-machine default, uses
SQLAlchemy's multi-row inserts and ``executemany`` instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import BigInteger, any_, bindparam, insert, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from engine.models import Decision
from engine.storage import copy_rows, dump_json, is_postgres

TABLE = Decision.__table__
# Keeps SQLite's IN lists under its 32,766 bind-parameter limit.
SQLITE_CHUNK = 10_000


def _recordset(columns: Sequence[str]) -> str:
    dialect = postgresql.dialect()
    types = ", ".join(f"{c} {TABLE.c[c].type.compile(dialect=dialect)}" for c in columns)
    return f"jsonb_to_recordset(CAST(:rows AS jsonb)) AS v({types})"


def insert_rows(session: Session, rows: list[dict]) -> list[tuple[int, str, str, int]]:
    """Insert decision rows; return (id, customer_id, event_key, version) of each."""
    if not rows:
        return []
    if not is_postgres(session):
        statement = insert(Decision).returning(
            Decision.id, Decision.customer_id, Decision.event_key, Decision.version
        )
        return [tuple(r) for r in session.execute(statement, rows).all()]

    ids = session.scalars(
        text("SELECT nextval(pg_get_serial_sequence('decisions', 'id')) "
             "FROM generate_series(1, :n)"),
        {"n": len(rows)},
    ).all()
    columns = list(rows[0])
    copy_rows(session, "decisions", ["id", *columns],
              ([decision_id, *(row[c] for c in columns)] for decision_id, row in zip(ids, rows)))
    return [(decision_id, row["customer_id"], row["event_key"], row["version"])
            for decision_id, row in zip(ids, rows)]


def update_rows(session: Session, rows: list[dict]) -> int:
    """Update decision rows by ``id``; each row sets the same columns."""
    if not rows:
        return 0
    columns = [c for c in rows[0] if c != "id"]
    if not is_postgres(session):
        statement = (
            update(TABLE)
            .where(TABLE.c.id == bindparam("row_id"))
            .values({c: bindparam(f"row_{c}") for c in columns})
        )
        params = [{f"row_{k}": v for k, v in row.items()} for row in rows]
        session.connection().execute(statement, params)
        return len(rows)

    assignments = ", ".join(f"{c} = v.{c}" for c in columns)
    statement = text(
        f"UPDATE decisions AS d SET {assignments} FROM {_recordset(['id', *columns])} "
        "WHERE d.id = v.id"
    )
    session.execute(statement, {"rows": dump_json(rows)})
    return len(rows)


def set_by_ids(session: Session, ids: Iterable[int], values: dict) -> int:
    """Apply the same ``values`` to every decision in ``ids``."""
    ids = list(ids)
    if not ids:
        return 0
    if is_postgres(session):
        wanted = any_(bindparam("ids", value=ids, type_=postgresql.ARRAY(BigInteger)))
        session.execute(update(TABLE).where(TABLE.c.id == wanted).values(**values))
        return len(ids)
    for start in range(0, len(ids), SQLITE_CHUNK):
        chunk = ids[start : start + SQLITE_CHUNK]
        session.execute(update(TABLE).where(TABLE.c.id.in_(chunk)).values(**values))
    return len(ids)


def in_list(column, values: Sequence, session: Session):
    """``column IN values`` as one array parameter on PostgreSQL."""
    if is_postgres(session):
        element_type = column.type
        return column == any_(
            bindparam(f"{column.key}_list", value=list(values),
                      type_=postgresql.ARRAY(element_type))
        )
    return column.in_(list(values))
