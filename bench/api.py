"""Benchmark the ops API at fixed request rates on loopback.

``python -m bench.api`` starts ``python -m api`` against a throwaway
PostgreSQL database and offers fixed rates to ``/live``, ``/health``,
``/circuits`` and ``POST /decisions/generate``. The baseline is a raw asyncio
HTTP server (``bench.httpserver``) returning a static JSON body, loaded at the
same rate by the same tool. ``POST /decisions/generate`` needs an API key from
``python -m api create-key NAME`` (key on the last output line, sent as
``X-API-Key``); when that command fails the endpoint is reported as not measured.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx
import psycopg

from bench import load, seed
from bench.common import (
    bench_database,
    free_port,
    install_sigterm_exit,
    machine_line,
    print_table,
    psycopg_url,
    redis_url,
)
from bench.pipeline import AS_OF

log = logging.getLogger(__name__)

TARGETS_P95_MS = {"/live": 5.0, "/health": 20.0}
GENERATE_PATH = "/decisions/generate"
STARTUP_TIMEOUT_SECONDS = 60.0


@dataclass
class Row:
    name: str
    rate: float
    result: load.LoadResult | None
    note: str = ""


def _api_env(database_url: str, port: int) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url(), PORT=str(port),
               LOG_LEVEL="WARNING", SOURCE_MODE="replay", REPLAY_START=AS_OF.date().isoformat(),
               # The per-key limit (60 a minute by default) would turn most of the
               # offered POSTs into 429s; the bench measures the endpoint itself.
               RATE_LIMIT_PER_MINUTE="1000000")
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        env.pop(name, None)
    return env


@contextmanager
def _process(command: list[str], env: dict[str, str] | None, ready_url: str):
    """Start a server process, wait until ``ready_url`` responds, stop it afterwards."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}: "
                                   f"{process.stderr.read()[-1000:]}")
            try:
                if httpx.get(ready_url, timeout=1.0).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{ready_url} did not respond within "
                                   f"{STARTUP_TIMEOUT_SECONDS:.0f}s")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _seed_book(database_url: str, shipments: int) -> None:
    """Load a small book and the recorded signals, so decision generation has work to do."""
    from bench.common import point_settings_at
    from engine import ingest
    from engine.db import reset_engine, session_scope

    customers = max(1, shipments // 20)
    with psycopg.connect(psycopg_url(database_url)) as connection:
        seed.copy_customers(connection, customers)
        seed.copy_shipments(connection, shipments, customers, AS_OF)
    point_settings_at(database_url)
    with session_scope() as session:
        ingest.ingest_replay(session, AS_OF - timedelta(days=0))
    reset_engine()


def _create_key(env: dict[str, str]) -> tuple[str | None, str]:
    """Run ``python -m api create-key bench``; return the key, or None and the reason.

    ``env`` names the port the running API holds, so a ``python -m api`` that
    ignores the sub-command fails to bind at once instead of serving.
    """
    try:
        completed = subprocess.run([sys.executable, "-m", "api", "create-key", "bench"],
                                   env=env, capture_output=True, text=True, check=False,
                                   timeout=60)
    except subprocess.TimeoutExpired:
        return None, "not measured: create-key did not finish within 60s"
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        return None, f"not measured: create-key exited with {completed.returncode}"
    return lines[-1].strip(), ""


def run(rate: float, seconds: float, generate_rate: float, port: int | None,
        tool: str | None, book_shipments: int) -> list[Row]:
    rows: list[Row] = []
    with bench_database() as database_url:
        _seed_book(database_url, book_shipments)
        baseline_port = free_port()
        with _process([sys.executable, "-m", "bench.httpserver", "--port", str(baseline_port)],
                      None, f"http://127.0.0.1:{baseline_port}/"):
            result = load.run_load(f"http://127.0.0.1:{baseline_port}/static", rate, seconds,
                                   tool=tool)
            rows.append(Row("baseline (raw asyncio, static)", rate, result))

        api_port = port or free_port()
        env = _api_env(database_url, api_port)
        base = f"http://127.0.0.1:{api_port}"
        with _process([sys.executable, "-m", "api"], env, f"{base}/live"):
            for path in ("/live", "/health", "/circuits"):
                # One request first, so lazy start-up work is not in the figures.
                httpx.get(base + path, timeout=30.0)
                rows.append(Row(f"GET {path}", rate,
                                load.run_load(base + path, rate, seconds, tool=tool)))
            key, note = _create_key(env)
            if key is None:
                rows.append(Row(f"POST {GENERATE_PATH}", generate_rate, None, note))
            else:
                body = json.dumps({"customer_id": seed.customer_id(0)})
                result = load.run_load(base + GENERATE_PATH, generate_rate, seconds,
                                       method="POST", body=body, api_key=key, tool=tool)
                rows.append(Row(f"POST {GENERATE_PATH}", generate_rate, result))
    return rows


def print_results(rows: list[Row], seconds: float) -> None:
    print(machine_line())
    tool = next((r.result.tool for r in rows if r.result), "none")
    print(f"load tool: {tool}; {seconds:g}s per endpoint on loopback; latencies in ms")
    baseline = rows[0].result
    headers = ("endpoint", "offered rps", "achieved rps", "requests", "p50", "p95", "p99",
               "error rate", "p95/baseline", "target p95", "note")
    table = []
    for row in rows:
        target = TARGETS_P95_MS.get(row.name.removeprefix("GET "))
        if row.result is None:
            table.append((row.name, row.rate, None, None, None, None, None, None, None,
                          target, row.note))
            continue
        r = row.result
        ratio = r.p95_ms / baseline.p95_ms if baseline and baseline.p95_ms else None
        verdict = ""
        if target is not None:
            verdict = "met" if r.p95_ms <= target and r.error_rate == 0 else "missed"
        table.append((row.name, row.rate, r.rate, r.requests, r.p50_ms, r.p95_ms, r.p99_ms,
                      f"{r.error_rate:.2%}", ratio, target, verdict or row.note))
    print_table(headers, table)
    live = next((r for r in rows if r.name == "GET /live" and r.result), None)
    if live and baseline and baseline.p95_ms:
        print(f"ratio_to_baseline={live.result.p95_ms / baseline.p95_ms:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0,
                        help="requests per second for the GET endpoints (default 200)")
    parser.add_argument("--generate-rate", type=float, default=10.0,
                        help="requests per second for POST /decisions/generate (default 10)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="load duration per endpoint in seconds (default 20)")
    parser.add_argument("--port", type=int, default=None,
                        help="API port (default: a free ephemeral port)")
    parser.add_argument("--tool", choices=("wrk", "httpx"), default=None,
                        help="load tool (default: wrk when on PATH, else httpx)")
    parser.add_argument("--book-shipments", type=int, default=2000,
                        help="shipments in the bench book (default 2000)")
    args = parser.parse_args(argv)
    for name in ("rate", "generate_rate", "seconds"):
        value = getattr(args, name)
        # "not (0 < value < inf)" also catches nan, which every comparison fails.
        if not 0 < value < math.inf:
            parser.error(f"--{name.replace('_', '-')} {value} is invalid: "
                         "give a positive, finite number")
    if args.port is not None and not 1 <= args.port <= 65535:
        parser.error(f"--port {args.port} is invalid: give a TCP port from 1 to 65535, "
                     "or leave it out for a free one")
    if args.book_shipments < 1:
        parser.error(f"--book-shipments {args.book_shipments} is invalid: "
                     "give a positive number of shipments")
    if args.tool == "wrk" and not load.wrk_available():
        parser.error("--tool wrk: wrk is not on PATH; install it (apt-get install wrk) "
                     "or use --tool httpx")

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    install_sigterm_exit()
    rows = run(args.rate, args.seconds, args.generate_rate, args.port, args.tool,
               args.book_shipments)
    print_results(rows, args.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
