"""Benchmark one pipeline tick against a raw COPY of the decisions it writes.

``python -m bench.pipeline --shipments 10000 100000`` builds, for each size, a
throwaway PostgreSQL database with N open shipments over N/20 customers, about
40% of them through Bab el-Mandeb. It sets the replay clock to 2024-01-05 (the
Red Sea crisis at its height in the bundled recording) and times one full
``engine.pipeline.tick`` in a fresh worker process. The tick ingests the
bundled signals and observations, assesses events, drafts and stores decisions
and queues their alerts. The same decision rows are then COPY'd into an empty
table with the same columns and indexes: that COPY is the baseline.

Peak memory is the worker process's own high-water resident set (``VmHWM``,
imports included; see ``bench.common.peak_rss_mb``). The last line is ``ratio_to_copy=X`` for the largest size.

Before the timer starts, the worker stores every recorded signal and
observation up to the day before, as a worker that has run the previous days
would have, so the timed tick ingests only the replay day's new records.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import psycopg

from bench import seed
from bench.common import (
    bench_database,
    install_sigterm_exit,
    machine_line,
    peak_rss_mb,
    point_settings_at,
    print_table,
    psycopg_url,
)

log = logging.getLogger(__name__)

REPLAY_DAY = "2024-01-05"
AS_OF = datetime(2024, 1, 5, tzinfo=timezone.utc)
DEFAULT_SIZES = (10_000, 100_000)
HUGE_SIZE = 1_000_000
SHIPMENTS_PER_CUSTOMER = 20


@dataclass
class Result:
    shipments: int
    customers: int
    red_sea_shipments: int
    setup_seconds: float
    tick_seconds: float
    decisions: int
    alerts: int
    affected_shipments: int
    copy_seconds: float
    decision_bytes: int
    worker_rss_before_mb: float
    worker_peak_rss_mb: float

    @property
    def ratio(self) -> float:
        return self.tick_seconds / self.copy_seconds if self.copy_seconds else float("inf")


def run_size(shipments: int, profile: str | None) -> Result:
    customers = max(1, shipments // SHIPMENTS_PER_CUSTOMER)
    with bench_database() as url:
        started = time.perf_counter()
        with psycopg.connect(psycopg_url(url)) as connection:
            seed.copy_customers(connection, customers)
            red_sea = seed.copy_shipments(connection, shipments, customers, AS_OF)
            connection.execute("ANALYZE customers")
            connection.execute("ANALYZE shipments")
            connection.commit()
        setup = time.perf_counter() - started
        log.info("bench pipeline: %d shipments over %d customers loaded in %.1fs",
                 shipments, customers, setup)

        worker = _run_worker(url, profile)
        copy_seconds, size_bytes, affected = _copy_baseline(url)
    return Result(
        shipments=shipments, customers=customers, red_sea_shipments=red_sea,
        setup_seconds=setup, tick_seconds=worker["tick_seconds"],
        decisions=worker["decisions"], alerts=worker["alerts"],
        affected_shipments=affected, copy_seconds=copy_seconds, decision_bytes=size_bytes,
        worker_rss_before_mb=worker["rss_before_mb"], worker_peak_rss_mb=worker["peak_rss_mb"],
    )


def _run_worker(url: str, profile: str | None) -> dict:
    """Run the tick in a fresh process, so its peak memory is the worker's alone."""
    command = [sys.executable, "-m", "bench.pipeline", "--worker", url]
    if profile:
        command += ["--profile", profile]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(
            f"bench worker failed with exit code {completed.returncode}: "
            f"{completed.stderr.strip()[-2000:]}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def worker_main(url: str, profile: str | None) -> int:
    from engine import ingest
    from engine.db import session_scope
    from engine.pipeline import tick

    point_settings_at(url, SOURCE_MODE="replay", REPLAY_START=REPLAY_DAY,
                      TWILIO_ACCOUNT_SID=None, TWILIO_AUTH_TOKEN=None, LOG_LEVEL="WARNING")
    # A long-running worker parses the bundled recordings once and has stored
    # every earlier day, so the timed tick ingests only the replay day's records.
    ingest.replay_signals()
    ingest.replay_observations()
    with session_scope() as session:
        ingest.ingest_replay(session, AS_OF - timedelta(days=1))
    rss_before = peak_rss_mb()
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005)
        profiler.start()
    started = time.perf_counter()
    summary = tick()
    seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.stop()
        with open(profile, "w") as handle:
            handle.write(profiler.output_text(unicode=False, color=False, show_all=False))
    print(json.dumps({
        "tick_seconds": seconds, "decisions": summary.decisions, "alerts": summary.alerts,
        "rss_before_mb": rss_before, "peak_rss_mb": peak_rss_mb(),
    }))
    return 0


def _copy_baseline(url: str) -> tuple[float, int, int]:
    """Time a COPY of the tick's decision rows into an empty copy of the table."""
    with psycopg.connect(psycopg_url(url)) as connection:
        columns = [row[0] for row in connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'decisions' ORDER BY ordinal_position"
        )]
        select_list = ", ".join(
            f"{name}::text" if name in ("answers", "provenance", "outcome") else name
            for name in columns
        )
        rows = connection.execute(f"SELECT {select_list} FROM decisions").fetchall()
        affected = connection.execute(
            "SELECT coalesce(sum(shipment_count), 0) FROM decisions WHERE chokepoint = %s",
            (seed.RED_SEA_CHOKEPOINT,),
        ).fetchone()[0]
        size_bytes = connection.execute(
            "SELECT coalesce(sum(pg_column_size(d.*)), 0) FROM decisions d"
        ).fetchone()[0]
        connection.execute("CREATE TABLE bench_decisions_copy (LIKE decisions INCLUDING ALL)")
        connection.commit()

        started = time.perf_counter()
        with connection.cursor() as cursor:
            with cursor.copy(
                f"COPY bench_decisions_copy ({', '.join(columns)}) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
        connection.commit()
        seconds = time.perf_counter() - started

        copied = connection.execute("SELECT count(*) FROM bench_decisions_copy").fetchone()[0]
        if copied != len(rows):
            raise RuntimeError(f"COPY baseline stored {copied} rows, expected {len(rows)}")
    return seconds, int(size_bytes), int(affected)


def print_results(results: list[Result]) -> None:
    print(machine_line())
    print(f"replay day {REPLAY_DAY}; peak memory is the worker process VmHWM")
    headers = ("shipments", "customers", "Red Sea shipments", "affected", "decisions",
               "alerts", "decision MB", "tick s", "COPY s", "tick/COPY", "decisions/min",
               "shipments/min", "worker RSS before MB", "worker peak MB", "setup s")
    rows = []
    for r in results:
        per_minute = 60.0 / r.tick_seconds if r.tick_seconds else 0.0
        rows.append((
            r.shipments, r.customers, r.red_sea_shipments, r.affected_shipments, r.decisions,
            r.alerts, r.decision_bytes / 1e6, r.tick_seconds, r.copy_seconds, r.ratio,
            int(r.decisions * per_minute), int(r.shipments * per_minute),
            r.worker_rss_before_mb, r.worker_peak_rss_mb, r.setup_seconds,
        ))
    print_table(headers, rows)
    largest = max(results, key=lambda r: r.shipments)
    print(f"ratio_to_copy={largest.ratio:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, nargs="+", default=None,
                        help="book sizes to run, in shipments (default 10000 100000)")
    parser.add_argument("--huge", action="store_true", help="also run 1,000,000 shipments")
    parser.add_argument("--profile", metavar="PATH",
                        help="write a pyinstrument text profile of the tick to PATH "
                             "(the size is appended when several sizes run)")
    parser.add_argument("--worker", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        return worker_main(args.worker, args.profile)

    install_sigterm_exit()

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    sizes = list(args.shipments or DEFAULT_SIZES)
    if args.huge and HUGE_SIZE not in sizes:
        sizes.append(HUGE_SIZE)
    for size in sizes:
        if size < 1:
            parser.error(f"--shipments {size} is invalid: give a positive number of shipments")
    results = []
    for size in sizes:
        profile = None
        if args.profile:
            profile = args.profile if len(sizes) == 1 else f"{args.profile}.{size}"
        results.append(run_size(size, profile))
    print_results(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
