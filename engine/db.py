"""Database engine, sessions and start-up migrations."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from engine.settings import ROOT, Settings, get_settings

log = logging.getLogger(__name__)

# Arbitrary constant shared by every process that migrates the same database.
MIGRATION_LOCK_ID = 724_311_001


class DatabaseBusyError(RuntimeError):
    """Raised when no pooled connection frees up within POOL_TIMEOUT."""


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
        connect_args={"connect_timeout": 5},
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
    the migrations and the others find the schema at head.
    """
    from alembic import command

    engine = engine or get_engine()
    with _migration_lock(engine):
        if current_revision(engine) == head_revision():
            log.info("schema already at head %s", head_revision())
            return
        log.info("applying migrations up to %s", head_revision())
        command.upgrade(alembic_config(engine), "head")


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(
                text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID}
            )
            try:
                yield
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
                connection.commit()
        return

    path = str(engine.url.database or "riskcast") + ".migrate.lock"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
