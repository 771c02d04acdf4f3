"""Database engine, sessions and start-up migrations."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from engine.settings import ROOT, Settings, get_settings

log = logging.getLogger(__name__)

# Arbitrary constant shared by every process that migrates the same database.
MIGRATION_LOCK_ID = 724_311_001
# A replica waits this long for another one to finish migrating before it gives up.
MIGRATION_LOCK_TIMEOUT_SECONDS = 600
LOCK_NOT_AVAILABLE = "55P03"
# TCP keepalives make a connection to a vanished server fail within about a
# minute instead of hanging until the kernel's two-hour default.
KEEPALIVE_ARGS = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                  "keepalives_count": 3}


class DatabaseBusyError(RuntimeError):
    """Raised when no pooled connection frees up within POOL_TIMEOUT."""


class MigrationLockTimeoutError(RuntimeError):
    """Raised when another process holds the migration lock for too long."""


def build_engine(settings: Settings) -> Engine:
    url = settings.DATABASE_URL
    if url.startswith("sqlite"):
        _ensure_sqlite_folder(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_pre_ping=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine

    return create_engine(
        url,
        pool_size=settings.POOL_SIZE,
        max_overflow=settings.MAX_OVERFLOW,
        pool_timeout=settings.POOL_TIMEOUT,
        pool_recycle=settings.POOL_RECYCLE,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 5, **KEEPALIVE_ARGS},
    )


def _ensure_sqlite_folder(url: str) -> None:
    path = url.split("sqlite:///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the dashboard read while the worker writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@functools.lru_cache(maxsize=1)
def get_engine() -> Engine:
    return build_engine(get_settings())


@functools.lru_cache(maxsize=1)
def _session_factory() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


def reset_engine() -> None:
    """Dispose of the process-wide engine, so the next call rebuilds it from settings."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
    _session_factory.cache_clear()


@contextlib.contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """Yield a session that commits on success and rolls back on any error."""
    factory = (
        _session_factory() if engine is None else sessionmaker(bind=engine, expire_on_commit=False)
    )
    try:
        session = factory()
    except PoolTimeoutError as exc:
        raise DatabaseBusyError(_busy_message()) from exc
    try:
        yield session
        session.commit()
    except PoolTimeoutError as exc:
        session.rollback()
        raise DatabaseBusyError(_busy_message()) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_database_unavailable(exc: BaseException) -> bool:
    """Tell whether ``exc``, or an exception it was raised from, means the database is unreachable.

    Connection refused, a server restart, a dropped connection and an
    exhausted pool count; a constraint violation or an SQL error does not.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (DatabaseBusyError, PoolTimeoutError, InterfaceError)):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, OperationalError) and _is_connection_state(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def first_database_error(exc: BaseException) -> BaseException:
    """Return the earliest connection error in ``exc``'s chain, or ``exc`` itself.

    A failure that happens while handling a lost connection (a rollback, or
    writing the failure down) hides the original cause in ``__context__``.
    """
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for candidate in reversed(chain):
        if is_database_unavailable(candidate):
            return candidate
    return exc


def _is_connection_state(exc: OperationalError) -> bool:
    # Client-side connection failures carry no SQLSTATE. Class 08 is a lost or
    # refused connection, 57P01-57P03 a server shutting down or starting, and
    # 53 a server out of connections or memory. Deadlocks, lock timeouts and
    # cancelled statements are OperationalErrors too, but the server is up.
    state = getattr(exc.orig, "sqlstate", None)
    return state is None or state.startswith(("08", "53", "57P0"))


def wait_for_database(engine: Engine, timeout: float = 120.0,
                      sleep: Callable[[float], None] = time.sleep) -> None:
    """Block until the database accepts a connection, retrying with back-off.

    Raises the last connection error once the pauses between attempts would
    add up to more than ``timeout`` seconds.
    """
    waited = 0.0
    delay = 1.0
    while True:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return
        except Exception as exc:
            if not is_database_unavailable(exc) or waited + delay > timeout:
                raise
            log.warning("database %s unavailable at start (%s); retrying in %.0f s",
                        engine.url.render_as_string(hide_password=True),
                        describe_error(exc), delay)
            sleep(delay)
            waited += delay
            delay = min(delay * 2, 10.0)


def describe_error(exc: BaseException) -> str:
    """Return ``Type: first line of the driver's message``, for one-line logs."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else 'no message'}"


def _busy_message() -> str:
    settings = get_settings()
    return (
        "database busy: all "
        f"{settings.POOL_SIZE + settings.MAX_OVERFLOW} pooled connections stayed "
        f"checked out for {settings.POOL_TIMEOUT:g}s; retry shortly, or raise "
        "POOL_SIZE/MAX_OVERFLOW if this persists"
    )


def alembic_config(engine: Engine | None = None):
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine | None = None) -> None:
    """Upgrade the schema to head, one process at a time.

    Replicas that start together take a lock first (an advisory lock on
    PostgreSQL, a file lock beside the SQLite file), so exactly one applies
    the migrations and the others wait, then find the schema at head.
    """
    from alembic import command

    engine = engine or get_engine()
    with migration_lock(engine):
        head = head_revision()
        current = current_revision(engine)
        if current == head:
            log.info("schema already at head %s", head)
            return
        log.info("applying migrations from %s up to %s", current or "an empty database", head)
        command.upgrade(alembic_config(engine), "head")
        log.info("migrations applied: schema at head %s", head)


@contextlib.contextmanager
def migration_lock(engine: Engine,
                   timeout: float = MIGRATION_LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Hold the lock that serialises schema changes on this database."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            _take_pg_migration_lock(connection, timeout)
            try:
                yield
            finally:
                _release_pg_migration_lock(connection)
        return

    path = str(engine.url.database or "riskcast") + ".migrate.lock"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another process is migrating %s; waiting for it to finish", path)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _take_pg_migration_lock(connection, timeout: float) -> None:
    params = {"id": MIGRATION_LOCK_ID}
    if connection.execute(text("SELECT pg_try_advisory_lock(:id)"), params).scalar():
        connection.commit()
        return

    log.info("another process holds the migration lock; waiting up to %.0f s for it", timeout)
    # SET LOCAL ends with this transaction, so the pooled connection keeps no timeout.
    connection.execute(text(f"SET LOCAL lock_timeout = '{int(timeout * 1000)}ms'"))
    try:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), params)
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        connection.rollback()
        raise MigrationLockTimeoutError(
            f"waited {timeout:.0f} s for the migration lock (advisory lock "
            f"{MIGRATION_LOCK_ID}) and another process still holds it; find it with "
            f"SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = "
            f"{MIGRATION_LOCK_ID}, and stop it if its migration is stuck"
        ) from exc
    connection.commit()


def _release_pg_migration_lock(connection) -> None:
    try:
        connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.commit()
    except OperationalError:
        # The connection died, and the server dropped its locks with it.
        connection.invalidate()
