"""Fixtures over the real PostgreSQL and Redis servers, and SQLite for the defaults.

Each test session creates its own PostgreSQL database and migrates it once;
each test starts from empty tables and a flushed Redis database, and fails if
it leaves a pooled connection checked out.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

# Metric files of the test process go to a directory of its own, set before
# engine.metrics is imported, so that they never mix with data/prometheus.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    _metrics_dir = tempfile.mkdtemp(prefix="riskcast-test-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir
    atexit.register(shutil.rmtree, _metrics_dir, ignore_errors=True)

from engine import breakers, cache, db, ingest  # noqa: E402
from engine.models import Base  # noqa: E402
from engine.settings import reset_settings_cache  # noqa: E402

ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def pg_database_url():
    """A fresh PostgreSQL database for this test session, migrated to head."""
    from engine.settings import normalise_database_url

    admin = create_engine(normalise_database_url(ADMIN_URL), isolation_level="AUTOCOMMIT")
    name = f"riskcast_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_database_url(ADMIN_URL)).set(database=name)
    url_text = url.render_as_string(hide_password=False)
    engine = create_engine(url_text)
    db.migrate(engine)
    engine.dispose()
    yield url_text
    with admin.connect() as connection:
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _reset_process_state() -> None:
    reset_settings_cache()
    db.reset_engine()
    cache.reset_cache_clients()
    breakers.breaker.cache_clear()


@pytest.fixture
def redis_url():
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture
def pg_env(pg_database_url, redis_url, monkeypatch):
    """Point settings at the test PostgreSQL database and Redis, with empty tables."""
    monkeypatch.setenv("DATABASE_URL", pg_database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SOURCE_MODE", "REPLAY_START"):
        monkeypatch.delenv(name, raising=False)
    _reset_process_state()
    engine = db.get_engine()
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield engine
    leaked = engine.pool.checkedout()
    _reset_process_state()
    assert leaked == 0, f"{leaked} pooled connection(s) still checked out after the test"


@pytest.fixture
def sqlite_env(tmp_path, monkeypatch):
    """The zero-configuration defaults: SQLite in a temporary folder, no Redis."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'riskcast.db'}")
    for name in ("REDIS_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SOURCE_MODE",
                 "REPLAY_START"):
        monkeypatch.delenv(name, raising=False)
    _reset_process_state()
    db.migrate()
    yield db.get_engine()
    _reset_process_state()


@pytest.fixture(scope="session", autouse=True)
def _parse_replay_once():
    """Parse the bundled replay files once for the whole session."""
    ingest.replay_signals()
    ingest.replay_observations()
