"""Shared pieces of the benchmarks: a throwaway database, settings, tables, memory."""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import uuid
from collections.abc import Iterator, Sequence

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine.settings import normalise_database_url

ADMIN_URL_VARIABLE = "BENCH_POSTGRES_URL"
REDIS_URL_VARIABLE = "BENCH_REDIS_URL"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"


def admin_url() -> str:
    return normalise_database_url(os.environ.get(ADMIN_URL_VARIABLE, DEFAULT_ADMIN_URL))


def redis_url() -> str:
    return os.environ.get(REDIS_URL_VARIABLE, DEFAULT_REDIS_URL)


@contextlib.contextmanager
def bench_database(migrate: bool = True, keep: bool = False) -> Iterator[str]:
    """Create ``riskcast_bench_<random>``, migrate it to head, yield its URL, drop it.

    With ``keep`` the database is not dropped, so its data can be inspected
    with EXPLAIN ANALYZE. The caller must print its URL, because only a manual
    ``DROP DATABASE`` removes it.
    """
    from engine import db

    admin = create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    name = f"riskcast_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url()).set(database=name).render_as_string(hide_password=False)
    try:
        if migrate:
            engine = create_engine(url)
            try:
                db.migrate(engine)
            finally:
                engine.dispose()
        yield url
    finally:
        if not keep:
            with admin.connect() as connection:
                connection.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = :name AND pid <> pg_backend_pid()"),
                    {"name": name},
                )
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def point_settings_at(database_url: str, **extra: str | None) -> None:
    """Point this process's settings and engine at ``database_url`` and the bench Redis."""
    from engine import breakers, cache, db
    from engine.settings import reset_settings_cache

    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url()
    for name, value in extra.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    reset_settings_cache()
    db.reset_engine()
    cache.reset_cache_clients()
    breakers.breaker.cache_clear()


def psycopg_url(database_url: str) -> str:
    """Convert a SQLAlchemy URL to the libpq form that raw psycopg connections take."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(
        hide_password=False
    )


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB.

    On Linux this is ``VmHWM`` from /proc/self/status, and elsewhere
    ``ru_maxrss``. Linux's ``ru_maxrss`` keeps the resident size the parent
    had when it forked this process, so a worker started by a parent with a
    large book would report the parent's memory as its own.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def free_port(start: int | None = None, end: int | None = None) -> int:
    """Return the first free TCP port of 127.0.0.1 in [start, end], else any free one."""
    candidates = range(start, end + 1) if start is not None and end is not None else ()
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def machine_line() -> str:
    with open("/proc/meminfo") as handle:
        total_kib = int(handle.readline().split()[1])
    return f"machine: {os.cpu_count()} cores, {total_kib / 1024 / 1024:.1f} GiB memory"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a Markdown table, so the output can be pasted into docs/benchmarks.md."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |")


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}" if value < 1 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def install_sigterm_exit() -> None:
    """Turn SIGTERM into SystemExit, so ``bench_database`` still drops its database."""
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
