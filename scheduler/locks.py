"""Run a job on one worker at a time across the fleet.

On PostgreSQL a session-level advisory lock per job is held for the run; a
worker that cannot take it stands by. SQLite serves one machine, where a file
lock does the same.
"""

from __future__ import annotations

import contextlib
import fcntl
import zlib
from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.engine import Engine


def lock_id(job: str) -> int:
    return 724_000_000 + zlib.crc32(job.encode()) % 1_000_000


@contextlib.contextmanager
def job_lock(engine: Engine, job: str) -> Iterator[bool]:
    """Yield True when this process holds the job's lock, False when another does."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            held = connection.execute(
                text("SELECT pg_try_advisory_lock(:id)"), {"id": lock_id(job)}
            ).scalar()
            connection.commit()
            try:
                yield bool(held)
            finally:
                if held:
                    connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id(job)})
                    connection.commit()
        return

    path = f"{engine.url.database}.{job}.lock"
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
