"""``python -m engine.backtest --out DIR``: replay the Red Sea history and write a report."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from engine.settings import SettingsError


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO date; write it as YYYY-MM-DD"
        ) from None


def main(argv: list[str] | None = None) -> int:
    from engine.backtest import DEFAULT_END, DEFAULT_START

    parser = argparse.ArgumentParser(prog="python -m engine.backtest", description=__doc__)
    parser.add_argument("--out", required=True, type=Path,
                        help="folder for report.md, the CSV files and report.html")
    parser.add_argument("--start", type=_day, default=DEFAULT_START,
                        help="first replay day (default %(default)s)")
    parser.add_argument("--end", type=_day, default=DEFAULT_END,
                        help="last replay day (default %(default)s)")
    parser.add_argument("--database-url", default=None,
                        help="an empty database to replay into (default: a temporary "
                             "SQLite file, deleted afterwards)")
    args = parser.parse_args(argv)

    try:
        from engine.settings import get_settings

        get_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2

    from engine.backtest import BacktestError, run_backtest
    from engine.backtest.report import write_report
    from engine.logs import configure_logging

    configure_logging()
    try:
        result = run_backtest(args.start, args.end, args.database_url)
    except BacktestError as exc:
        print(f"backtest failed: {exc}", file=sys.stderr)
        return 2
    paths = write_report(result, args.out)

    print(f"replayed {args.start} to {args.end} in {result.seconds:.0f}s; "
          f"{len(result.decisions)} decision versions")
    print(f"transits below 50% of the 2023 mean on {result.drop_day}; first HIGH or "
          f"CRITICAL REROUTE through Bab el-Mandeb on {result.first_reroute_day}")
    print(f"HIGH or CRITICAL REROUTE before October 2023: {result.quiet_severe_reroutes}")
    print(f"report: {', '.join(str(p) for p in paths)}")
    lead = result.lead_time_days
    print(f"lead_time_days={lead if lead is not None else 'none'}")
    return 0 if lead is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
