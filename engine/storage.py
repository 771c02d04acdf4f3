"""Bulk writes that work the same on PostgreSQL and SQLite.

On PostgreSQL rows travel by ``COPY``, the fastest way into the server. Rows
that may collide with existing ones are copied into a temporary staging
table first and moved across with one ``INSERT ... SELECT ... ON CONFLICT DO
NOTHING``. SQLite, the single-machine default, uses SQLAlchemy's multi-row
inserts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

import numpy as np
import orjson
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import Table, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

# Rows per INSERT statement on SQLite. It keeps each statement under the
# bind-parameter limit for tables of up to about 30 columns.
CHUNK = 1000


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def json_default(value):
    """Return a JSON-ready form of the dates and numpy scalars that rows contain."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} value {value!r} as JSON: "
                    f"convert it to a string, number, list or dict first")


def dump_json(value) -> str:
    """Serialise a row's JSON value with orjson, about seven times faster than ``json`` here."""
    return orjson.dumps(value, default=json_default,
                        option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS).decode()


def _copy_value(value):
    if isinstance(value, (dict, list)):
        return dump_json(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def copy_rows(session: Session, table: str, columns: Sequence[str],
              rows: Iterable[Sequence]) -> None:
    """COPY ``rows`` (value sequences in ``columns`` order) into ``table``, on PostgreSQL.

    Runs on the session's connection, so the rows commit or roll back with
    the caller's transaction. Dicts and lists are written as JSON text.
    """
    connection = session.connection().connection.driver_connection
    with connection.cursor() as cursor:
        # A writer thread sends the data while this one formats the next
        # rows, so the server parses and indexes them in the meantime.
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN",
                         writer=QueuedLibpqWriter(cursor)) as copy:
            for row in rows:
                copy.write_row([_copy_value(v) for v in row])


def insert_ignore(
    session: Session, table: Table, rows: Sequence[dict], conflict: Sequence[str]
) -> int:
    """Insert rows, skipping those that collide on ``conflict``; return inserted count."""
    if not rows:
        return 0
    if is_postgres(session):
        return _staged_insert_ignore(session, table, rows, conflict)
    inserted = 0
    key = list(table.primary_key.columns)[0]
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        statement = sqlite.insert(table).values(list(chunk))
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
        # RETURNING counts the rows actually inserted; rowcount is not
        # reliable for multi-row statements on every driver.
        inserted += len(session.execute(statement.returning(key)).all())
    return inserted


def _staged_insert_ignore(session: Session, table: Table, rows: Sequence[dict],
                          conflict: Sequence[str]) -> int:
    columns = list(rows[0])
    defaults = _python_defaults(table, columns)
    columns += list(defaults)
    names = ", ".join(columns)
    stage = f"stage_{table.name}"
    # One staging table per table and connection, with every column of the
    # real one and no constraints. The statement that moves the rows also
    # empties it, so each call costs the same three statements.
    session.execute(text(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
        f"SELECT * FROM {table.name} WITH NO DATA"
    ))
    copy_rows(session, stage, columns,
              ([row[c] if c in row else defaults[c] for c in columns] for row in rows))
    key = list(table.primary_key.columns)[0].name
    inserted = session.execute(text(
        f"WITH moved AS (DELETE FROM {stage} RETURNING {names}) "
        f"INSERT INTO {table.name} ({names}) SELECT {names} FROM moved "
        f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING RETURNING {key}"
    )).all()
    return len(inserted)


def _python_defaults(table: Table, present: Sequence[str]) -> dict:
    """Return the Python-side column defaults that an INSERT would fill in.

    COPY and ``INSERT ... SELECT`` apply only server-side defaults, so the
    columns the rows leave out get their model default here, once per batch.
    """
    values = {}
    for column in table.columns:
        default = column.default
        if column.name in present or default is None or default.is_sequence:
            continue
        if default.is_callable:
            values[column.name] = default.arg(None)
        elif default.is_scalar:
            values[column.name] = default.arg
    return values
