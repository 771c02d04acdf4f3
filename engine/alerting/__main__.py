"""``python -m engine.alerting``: run alert dispatch by hand, once or until the queue is empty."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from engine.settings import SettingsError

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.alerting", description=__doc__)
    parser.add_argument("--drain", action="store_true",
                        help="repeat dispatch runs until no alert is due")
    parser.add_argument("--limit", type=int, default=None,
                        help="alerts claimed per run (default: ALERT_BATCH_SIZE)")
    parser.add_argument("--max-seconds", type=float, default=600.0,
                        help="with --drain, stop after this many seconds (default 600)")
    args = parser.parse_args(argv)
    try:
        from engine.settings import get_settings

        get_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2

    from engine.alerting.dispatch import dispatch_once
    from engine.logs import configure_logging

    configure_logging()
    deadline = time.monotonic() + args.max_seconds
    total: dict[str, int] = {}
    while True:
        counts = dispatch_once(args.limit)
        for label, count in counts.items():
            total[label] = total.get(label, 0) + count
        if not args.drain or not any(counts.values()) or time.monotonic() > deadline:
            break
    print(" ".join(f"{label}={count}" for label, count in total.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
