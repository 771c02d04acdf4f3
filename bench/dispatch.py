"""Benchmark alert dispatch to a local Twilio-compatible server.

``python -m bench.dispatch --messages 2000`` queues due alerts in a throwaway
PostgreSQL database and drains them with one, then two, dispatcher processes,
each calling ``engine.alerting.dispatch.dispatch_once`` in a loop with the
Twilio settings pointed at ``bench.fake_twilio``. The server counts every
message and every duplicate. The baseline is one process posting the same
number of Twilio-shaped form requests straight to the server with httpx.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx
import psycopg
import redis

from bench import seed
from bench.common import (
    bench_database,
    free_port,
    install_sigterm_exit,
    machine_line,
    point_settings_at,
    print_table,
    psycopg_url,
    redis_url,
)
from bench.fake_twilio import FakeTwilio

log = logging.getLogger(__name__)

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "bench-token"
CUSTOMERS = 50
TARGET_PER_SECOND = 200.0


@dataclass
class Phase:
    name: str
    processes: int
    messages: int
    seconds: float
    duplicates: int
    sent_rows: int
    distinct_sids: int

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def _api_base(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def worker_main(database_url: str, api_base: str) -> int:
    """Drain the queue with ``dispatch_once`` after the parent writes a line to stdin."""
    from engine.alerting.dispatch import dispatch_once

    point_settings_at(database_url, TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                      TWILIO_API_BASE=api_base, TWILIO_STATUS_CALLBACK_URL=None,
                      LOG_LEVEL="WARNING")
    logging.getLogger("engine").setLevel(logging.WARNING)
    print("ready", flush=True)
    sys.stdin.readline()
    totals = {"sent": 0, "retry": 0, "failed": 0}
    while True:
        counts = dispatch_once()
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
        if not any(counts.values()):
            break
    print(json.dumps(totals), flush=True)
    return 0


def raw_posts_main(api_base: str, count: int) -> int:
    """Post ``count`` Twilio-shaped messages over one keep-alive connection."""
    url = f"{api_base}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    with httpx.Client(auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=10.0) as client:
        print("ready", flush=True)
        sys.stdin.readline()
        for index in range(count):
            response = client.post(url, data={
                "To": f"whatsapp:+447700900{index % 1000:03d}",
                "From": "whatsapp:+14155238886",
                "Body": f"RISKCAST raw baseline {index}",
            })
            response.raise_for_status()
    print(json.dumps({"sent": count}), flush=True)
    return 0


def _run_processes(commands: list[list[str]]) -> float:
    """Start every command, release them together once all are ready, time until all exit."""
    processes = [subprocess.Popen(c, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for c in commands]
    try:
        for process in processes:
            line = process.stdout.readline()
            if line.strip() != "ready":
                process.wait(timeout=30)
                raise RuntimeError(f"bench process failed before start: "
                                   f"{process.stderr.read()[-2000:]}")
        started = time.perf_counter()
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        for process in processes:
            _out, err = process.communicate(timeout=600)
            if process.returncode != 0:
                raise RuntimeError(f"bench process exited with {process.returncode}: "
                                   f"{err[-2000:]}")
        return time.perf_counter() - started
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def _reset_queue(database_url: str) -> None:
    """Put every alert back in the queue as never sent, in the database and in Redis."""
    # The alerter marks idempotency:{key} in Redis once Twilio accepted a
    # message and then never sends that alert again, so the marks of the
    # previous run (or an earlier bench run) must go. The bench owns its
    # Redis database.
    redis.Redis.from_url(redis_url()).flushdb()
    with psycopg.connect(psycopg_url(database_url)) as connection:
        connection.execute(
            "UPDATE alerts SET status = 'PENDING', attempts = 0, claimed_by = NULL, "
            "claimed_until = NULL, twilio_sid = NULL, sent_at = NULL, send_started_at = NULL, "
            "last_error_code = NULL, last_error_message = NULL, "
            "next_attempt_at = now() - interval '1 minute'"
        )


def _stored(database_url: str) -> tuple[int, int]:
    with psycopg.connect(psycopg_url(database_url)) as connection:
        return connection.execute(
            "SELECT count(*) FILTER (WHERE status = 'SENT'), count(DISTINCT twilio_sid) "
            "FROM alerts"
        ).fetchone()


def run(messages: int) -> list[Phase]:
    server = FakeTwilio()
    port = free_port()
    server.start(port)
    api_base = _api_base(port)
    phases: list[Phase] = []
    with bench_database() as database_url:
        with psycopg.connect(psycopg_url(database_url)) as connection:
            seed.copy_customers(connection, CUSTOMERS)
            seed.copy_pending_alerts(connection, messages, CUSTOMERS)

        baseline = [sys.executable, "-m", "bench.dispatch", "--raw-posts", api_base,
                    "--messages", str(messages)]
        seconds = _run_processes([baseline])
        phases.append(Phase("baseline: raw POSTs (httpx)", 1, server.messages, seconds,
                            server.duplicates, 0, 0))

        worker = [sys.executable, "-m", "bench.dispatch", "--worker", database_url,
                  "--api-base", api_base]
        for count in (1, 2):
            server.reset()
            _reset_queue(database_url)
            seconds = _run_processes([worker] * count)
            sent, sids = _stored(database_url)
            phases.append(Phase(f"dispatch_once x{count}", count, server.messages, seconds,
                                server.duplicates, sent, sids))
    return phases


def print_results(phases: list[Phase], messages: int) -> None:
    print(machine_line())
    print(f"{messages} alerts queued; rate = messages received by the fake Twilio server "
          "/ wall time from release to the last process exit")
    baseline = phases[0].per_second
    headers = ("run", "processes", "messages received", "seconds", "messages/s",
               "ratio to baseline", "duplicates", "alerts SENT", "distinct SIDs", "target")
    rows = []
    for phase in phases:
        verdict = ""
        if phase.name.startswith("dispatch"):
            met = phase.per_second >= TARGET_PER_SECOND and phase.duplicates == 0
            verdict = "met" if met and phase.sent_rows == messages else "missed"
        rows.append((phase.name, phase.processes, phase.messages, phase.seconds,
                     phase.per_second, phase.per_second / baseline if baseline else None,
                     phase.duplicates, phase.sent_rows if phase.processes and verdict else None,
                     phase.distinct_sids if verdict else None, verdict))
    print_table(headers, rows)
    two = phases[-1]
    print(f"duplicates_two_dispatchers={two.duplicates}")
    print(f"ratio_to_baseline={two.per_second / baseline if baseline else 0:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000,
                        help="alerts to queue and send per run (default 2000)")
    parser.add_argument("--worker", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    parser.add_argument("--api-base", help=argparse.SUPPRESS)
    parser.add_argument("--raw-posts", metavar="API_BASE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.messages < 1:
        parser.error(f"--messages {args.messages} is invalid: give a positive number")
    if args.worker:
        return worker_main(args.worker, args.api_base)
    if args.raw_posts:
        return raw_posts_main(args.raw_posts, args.messages)

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    install_sigterm_exit()
    phases = run(args.messages)
    print_results(phases, args.messages)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
