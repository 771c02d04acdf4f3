"""``python -m scheduler [--once]``: run the worker, or a single pipeline tick."""

from __future__ import annotations

import argparse
import sys

from engine.settings import SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scheduler", description=__doc__)
    parser.add_argument("--once", action="store_true",
                        help="run one full tick at the current replay position, print a summary, exit")
    parser.add_argument("--no-migrate", action="store_true",
                        help="skip applying database migrations at start")
    args = parser.parse_args(argv)

    try:
        from engine.settings import get_settings

        get_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2

    from engine.db import migrate
    from engine.logs import configure_logging

    configure_logging()
    if not args.no_migrate:
        migrate()

    if args.once:
        from engine.alerting.dispatch import dispatch_once
        from engine.pipeline import tick

        summary = tick(advance=False)
        dispatch_once()
        print(summary.line())
        return 0

    from scheduler.worker import run_forever

    run_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
