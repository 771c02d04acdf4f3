"""``python -m scheduler [--once] [--no-migrate]``: run the worker, or a single pipeline tick."""

from __future__ import annotations

import argparse
import logging
import sys

from engine.settings import SettingsError

# How long a starting worker waits for the database before it gives up.
DATABASE_START_TIMEOUT = 120.0
# A one-off tick is run by hand, so it gives up on the database sooner.
ONCE_DATABASE_TIMEOUT = 15.0
# How long --once waits for a tick running on a worker to finish.
ONCE_LOCK_WAIT = 600.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scheduler", description=__doc__)
    parser.add_argument("--once", action="store_true",
                        help="run one full tick at the current replay position, print a "
                             "summary, exit")
    parser.add_argument("--no-migrate", action="store_true",
                        help="skip applying database migrations at start")
    args = parser.parse_args(argv)

    try:
        from engine.settings import get_settings

        settings = get_settings()
        # Metrics must be set up before anything imports prometheus_client, so
        # that this process writes to the shared multiprocess directory.
        import engine.metrics  # noqa: F401
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2

    from engine.db import MigrationLockTimeoutError, get_engine, migrate, wait_for_database
    from engine.logs import configure_logging

    configure_logging()
    _quiet_apscheduler()
    database_timeout = ONCE_DATABASE_TIMEOUT if args.once else DATABASE_START_TIMEOUT
    try:
        wait_for_database(get_engine(), database_timeout)
        if not args.no_migrate:
            migrate()
    except MigrationLockTimeoutError as exc:
        print(f"migration failed: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        from engine.db import describe_error, is_database_unavailable

        if not is_database_unavailable(exc):
            raise
        print(f"database unavailable for {database_timeout:.0f} s at start "
              f"({describe_error(exc)}); check DATABASE_URL and that the server is up",
              file=sys.stderr)
        return 1

    if args.once:
        return _run_once()

    from scheduler.service import run_forever

    return run_forever(settings)


def _run_once() -> int:
    from engine.alerting.dispatch import dispatch_once
    from engine.db import get_engine
    from engine.heartbeats import current_worker_id
    from engine.pipeline import tick
    from scheduler.locks import job_lock

    # Take the fleet's tick lock, so a manual tick never overlaps a scheduled one.
    with job_lock(get_engine(), "tick", wait_seconds=ONCE_LOCK_WAIT) as held:
        if not held:
            print(f"a pipeline tick kept running on a worker for {ONCE_LOCK_WAIT:.0f} s; "
                  "try again when it has finished", file=sys.stderr)
            return 1
        summary = tick(advance=False, worker_id=current_worker_id())
    dispatch_once()
    print(summary.line())
    return 0


def _quiet_apscheduler() -> None:
    # The worker logs one summary line per run and logs missed runs itself;
    # APScheduler's own per-run lines would repeat them.
    for name in ("apscheduler.executors.default", "apscheduler.scheduler"):
        logging.getLogger(name).setLevel(logging.ERROR)


if __name__ == "__main__":
    raise SystemExit(main())
