"""Alembic environment: the database URL comes from RISKCAST settings."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context


from engine.models import Base
from engine.settings import SettingsError, get_settings

config = context.config
if config.config_file_name and not config.attributes.get("engine"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    try:
        return get_settings().DATABASE_URL
    except SettingsError as exc:
        raise SystemExit(f"cannot run migrations: {exc}") from None


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = config.attributes.get("engine")
    if engine is not None:
        # engine.db.migrate() passes its engine and already holds the migration lock.
        _run_on(engine)
        return

    from engine.db import build_engine, migration_lock

    engine = build_engine(get_settings())
    try:
        # The alembic command line takes the same lock as the processes that
        # migrate at start, so a migration Job and starting replicas never collide.
        with migration_lock(engine):
            _run_on(engine)
    finally:
        engine.dispose()


def _run_on(engine) -> None:
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
