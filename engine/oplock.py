"""Run an operator action once at a time across every dashboard and worker.

On PostgreSQL the action takes a transaction-scoped advisory lock, released at
commit or rollback, so a crashed run never leaves it held. Keys share the key
space of ``scheduler.locks.lock_id``: the dashboard's cleanup and the
worker's daily cleanup exclude each other. On SQLite a file lock beside the
database file does the same on one machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import zlib
from collections.abc import Iterator

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session


class ActionBusyError(RuntimeError):
    """Raised when the same action is already running in another session or process."""


def lock_key(name: str) -> int:
    return 724_000_000 + zlib.crc32(name.encode()) % 1_000_000


def _busy(name: str) -> ActionBusyError:
    return ActionBusyError(
        f"{name} is already running (started from another browser tab, dashboard or "
        "worker); wait for it to finish, then look at the audit log for its result"
    )


def _lock_path(bind) -> str:
    return str(bind.url.database or "riskcast")


@contextlib.contextmanager
def _file_lock(bind, name: str) -> Iterator[None]:
    with open(f"{_lock_path(bind)}.{name}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(name) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def exclusive(session: Session, name: str) -> Iterator[None]:
    """Hold the lock for ``name`` until the session's transaction ends."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        with _file_lock(bind, name):
            yield
        return
    held = session.execute(select(func.pg_try_advisory_xact_lock(lock_key(name)))).scalar()
    if not held:
        raise _busy(name)
    yield


@contextlib.contextmanager
def exclusive_connection(connection: Connection, name: str) -> Iterator[None]:
    """Hold the lock for ``name`` on an autocommit connection (for VACUUM)."""
    if connection.dialect.name != "postgresql":
        with _file_lock(connection.engine, name):
            yield
        return
    key = lock_key(name)
    if not connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
        raise _busy(name)
    try:
        yield
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def is_running(session: Session, name: str) -> bool:
    """True while some session or process holds the lock for ``name``."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        try:
            with _file_lock(bind, name):
                return False
        except ActionBusyError:
            return True
    key = lock_key(name)
    count = session.execute(
        text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
             "AND classid = :high AND objid = :low"),
        {"high": key >> 32, "low": key & 0xFFFFFFFF},
    ).scalar()
    return bool(count)
