"""Run a job on one worker at a time across the fleet.

On PostgreSQL a session-level advisory lock per job is held on a dedicated
connection for the whole run. The server drops it when that connection ends,
so a worker killed mid-run (SIGKILL, a lost node) frees the job for the
others at once. SQLite serves one machine, where a file lock does the same.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
import zlib
from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

# Advisory locks are scoped to one database, so these ids only need to stay
# apart from the migration lock (engine.db.MIGRATION_LOCK_ID).
LOCK_ID_BASE = 724_000_000


def lock_id(job: str) -> int:
    return LOCK_ID_BASE + zlib.crc32(job.encode()) % 1_000_000


@contextlib.contextmanager
def job_lock(engine: Engine, job: str, wait_seconds: float | None = None) -> Iterator[bool]:
    """Yield True while this process holds the job's lock, False when another does.

    With ``wait_seconds`` set, wait up to that long for the lock instead of
    giving up at once.
    """
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, job, wait_seconds) as acquired:
            yield acquired
        return
    with _file_lock(engine, job, wait_seconds) as acquired:
        yield acquired


@contextlib.contextmanager
def _advisory_lock(engine: Engine, job: str, wait_seconds: float | None) -> Iterator[bool]:
    connection = engine.connect()
    try:
        acquired = _try_advisory_lock(connection, job, wait_seconds)
    except BaseException:
        connection.close()
        raise
    try:
        yield acquired
    finally:
        if acquired:
            _advisory_unlock(connection, job)
        connection.close()


def _try_advisory_lock(connection: Connection, job: str, wait_seconds: float | None) -> bool:
    params = {"id": lock_id(job)}
    acquired = bool(connection.execute(text("SELECT pg_try_advisory_lock(:id)"), params).scalar())
    if acquired or wait_seconds is None:
        connection.commit()
        return acquired

    log.info("job %s is running elsewhere; waiting up to %.0f s for it to finish",
             job, wait_seconds)
    # SET LOCAL ends with the transaction; the session-level lock outlives it.
    connection.execute(text(f"SET LOCAL lock_timeout = '{int(wait_seconds * 1000)}ms'"))
    try:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), params)
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":
            raise
        connection.rollback()
        return False
    connection.commit()
    return True


def _advisory_unlock(connection: Connection, job: str) -> None:
    try:
        connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id(job)})
        connection.commit()
    except DBAPIError as exc:
        # The connection is gone (server restart, network), and the server
        # released the lock when the session ended. Drop the dead connection
        # rather than returning it to the pool.
        log.debug("job %s lock connection lost before unlock (%s)", job, exc.orig)
        connection.invalidate()


@contextlib.contextmanager
def _file_lock(engine: Engine, job: str, wait_seconds: float | None) -> Iterator[bool]:
    path = f"{engine.url.database}.{job}.lock"
    with open(path, "w") as handle:
        acquired = _flock(handle, wait_seconds)
        try:
            yield acquired
        finally:
            if acquired:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _flock(handle, wait_seconds: float | None) -> bool:
    deadline = time.monotonic() + (wait_seconds or 0.0)
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)
