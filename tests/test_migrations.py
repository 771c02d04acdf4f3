import os
import subprocess
import sys
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, inspect, text

from engine import db
from engine.models import Base

ROOT = Path(__file__).resolve().parent.parent


def _tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def _round_trip(url: str) -> None:
    engine = create_engine(url)
    config = db.alembic_config(engine)
    command.upgrade(config, "head")
    assert _tables(engine) == set(Base.metadata.tables)

    command.downgrade(config, "-1")
    assert _tables(engine) == set()

    command.upgrade(config, "head")
    assert db.current_revision(engine) == db.head_revision()
    engine.dispose()


def test_round_trip_sqlite(tmp_path):
    _round_trip(f"sqlite:///{tmp_path / 'm.db'}")


def test_round_trip_postgresql(pg_database_url):
    from engine.settings import normalise_database_url

    admin = create_engine(pg_database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS riskcast_migration_check"))
        connection.execute(text("CREATE DATABASE riskcast_migration_check"))
    url = pg_database_url.rsplit("/", 1)[0] + "/riskcast_migration_check"
    try:
        _round_trip(normalise_database_url(url))
    finally:
        with admin.connect() as connection:
            connection.execute(text("DROP DATABASE riskcast_migration_check"))
        admin.dispose()


def test_alembic_cli_from_root(tmp_path):
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}")
    alembic = [sys.executable, "-m", "alembic"]

    for args in (["upgrade", "head"], ["downgrade", "-1"], ["upgrade", "head"]):
        subprocess.run(alembic + args, cwd=ROOT, env=env, check=True, capture_output=True)
    current = subprocess.run(alembic + ["current"], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True)

    assert "(head)" in current.stdout


def test_models_match_migrations(pg_database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(pg_database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()

    assert diff == [], f"models and migrations differ: {diff}"
