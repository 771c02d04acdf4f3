"""Benchmark the dashboard's reads at a million decisions and a million alerts.

``python -m bench.dashboard --rows 1000000`` fills a throwaway PostgreSQL
database with generate_series SQL in one of two shapes, chosen by ``--shape``.

The active shape (the default) puts 60 % of the decisions in the active book.
It times every data function the pages use: the public functions of
``engine.queries`` and any other engine function a page file imports whose
first parameter is ``session``. It then runs every page listed in ``app.py``
with ``streamlit.testing.v1.AppTest`` on cold caches.

The history shape spreads the decisions over a year with 2 % of them active,
and times each page's read models with the arguments the page passes
(``bench/dashboard_history.py``). ``--shape both`` runs the two shapes one
after the other, each in its own database.

The baseline is a plain ``SELECT count(*)`` over each table of the same
database.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import logging
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench import dashboard_history, seed
from bench.common import (
    bench_database,
    install_sigterm_exit,
    machine_line,
    point_settings_at,
    print_table,
    psycopg_url,
)

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
TARGET_MS = 300.0
REPEATS = 3
SHAPES = ("active", "history", "both")
DEFAULT_CUSTOMERS = 5000
CHOKEPOINTS = ("bab_el_mandeb", "suez", "malacca", "hormuz", "panama", "taiwan",
               "gibraltar", "dover", "cape")


@dataclass
class Slowest:
    """The slowest read of one shape, and its median over that shape's COUNT(*)."""

    shape: str
    name: str
    median_ms: float
    ratio: float


@dataclass
class Timing:
    name: str
    kind: str
    first_ms: float
    median_ms: float
    error: str = ""


def fill(database_url: str, rows: int, customers: int) -> float:
    """Insert ``rows`` decisions and ``rows`` alerts server-side and return the seconds taken."""
    started = time.perf_counter()
    chokepoints = "ARRAY[" + ", ".join(f"'{c}'" for c in CHOKEPOINTS) + "]"
    with psycopg.connect(psycopg_url(database_url)) as connection:
        seed.copy_customers(connection, customers)
        # Row i belongs to customer i % C and its event follows from i / C, so
        # each (customer_id, event_key) has one version, as the partial unique
        # index on active decisions requires.
        connection.execute(f"""
            INSERT INTO decisions (id, customer_id, event_key, chokepoint, version, status,
                severity, recommended_action, exposure_usd, expected_loss_usd,
                action_cost_usd, net_benefit_usd, probability, confidence, shipment_count,
                deadline, expires_at, is_expired, as_of, answers, provenance, fingerprint,
                supersedes_id, created_at, updated_at)
            SELECT i, 'BENCH-' || lpad((i %% %(c)s)::text, 7, '0'),
                ({chokepoints})[(i / %(c)s) %% 9 + 1] || ':event-' || ((i / %(c)s) / 9 + 1),
                ({chokepoints})[(i / %(c)s) %% 9 + 1],
                1,
                (ARRAY['OPEN','OPEN','OPEN','ACKNOWLEDGED','ACTED','DISMISSED',
                       'SUPERSEDED','SUPERSEDED','SUPERSEDED','EXPIRED'])[i %% 10 + 1],
                (ARRAY['LOW','MEDIUM','HIGH','CRITICAL'])[i %% 4 + 1],
                (ARRAY['REROUTE','DELAY','INSURE','MONITOR','DO_NOTHING'])[i %% 5 + 1],
                (i %% 997) * 10000.0, (i %% 991) * 1000.0, (i %% 983) * 100.0,
                (i %% 977) * 50.0, 0.5 + (i %% 50) / 100.0, 0.7, 1 + i %% 20,
                now() + ((i %% 240) || ' hours')::interval,
                now() + ((i %% 168) - 24 || ' hours')::interval,
                i %% 10 >= 6,
                now() - ((i %% 720) || ' hours')::interval,
                jsonb_build_object('what', jsonb_build_object('event_key', 'bench'),
                                   'by_when', NULL),
                '{{}}'::jsonb, md5(i::text), NULL,
                now() - ((i %% 720) || ' hours')::interval, now()
            FROM generate_series(1, %(n)s) AS i
        """, {"c": customers, "n": rows})
        connection.execute("""
            INSERT INTO alerts (decision_id, decision_version, customer_id, recipient, kind,
                urgency, status, attempts, next_attempt_at, idempotency_key, reference, body,
                simulated, created_at, updated_at, sent_at)
            SELECT i, 1, 'BENCH-' || lpad((i %% %(c)s)::text, 7, '0'),
                '+447700900' || lpad((i %% 1000)::text, 3, '0'), 'DECISION',
                (ARRAY['urgent','standard','watch'])[i %% 3 + 1],
                (ARRAY['SENT','SENT','DELIVERED','DELIVERED','READ','PENDING','FAILED',
                       'DEAD','CANCELLED','SUPERSEDED'])[i %% 10 + 1],
                1 + i %% 3, now() - ((i %% 720) || ' hours')::interval,
                'decision:' || i || ':v1', 'RC' || upper(substr(md5(i::text), 1, 8)),
                'RISKCAST bench alert ' || i, false,
                now() - ((i %% 720) || ' hours')::interval, now(),
                now() - ((i %% 720) || ' hours')::interval
            FROM generate_series(1, %(n)s) AS i
        """, {"c": customers, "n": rows})
        connection.execute("SELECT setval(pg_get_serial_sequence('decisions', 'id'), %s)",
                           (rows,))
        connection.commit()
    with psycopg.connect(psycopg_url(database_url), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE decisions")
        connection.execute("VACUUM ANALYZE alerts")
        connection.execute("VACUUM ANALYZE customers")
    return time.perf_counter() - started


def page_files() -> list[str]:
    """Page paths listed in ``app.py`` through ``st.Page("...")``, in order."""
    return re.findall(r"st\.Page\(\s*[\"']([^\"']+\.py)[\"']", APP.read_text())


def data_functions() -> dict[str, Callable]:
    """Engine functions that take a session as first parameter and need nothing else.

    The candidates are the public functions of ``engine.queries`` and every
    name a page file imports from an ``engine`` module.
    """
    names: dict[str, set[str]] = {"engine.queries": set()}
    queries = importlib.import_module("engine.queries")
    names["engine.queries"] = {n for n, f in inspect.getmembers(queries, inspect.isfunction)
                               if f.__module__ == queries.__name__ and not n.startswith("_")}
    for page in page_files() + ["dashboard/_shared.py"]:
        path = ROOT / page
        if not path.exists():
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("engine"):
                names.setdefault(node.module, set()).update(a.name for a in node.names)
    found: dict[str, Callable] = {}
    for module_name, members in sorted(names.items()):
        module = importlib.import_module(module_name)
        for name in sorted(members):
            function = getattr(module, name, None)
            if inspect.isfunction(function) and _takes_only_session(function):
                found[f"{module_name.removeprefix('engine.')}.{name}"] = function
    return found


def _takes_only_session(function: Callable) -> bool:
    parameters = list(inspect.signature(function).parameters.values())
    if not parameters or parameters[0].name != "session":
        return False
    return all(p.default is not inspect.Parameter.empty
               or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters[1:])


def _time(call: Callable[[], object], repeats: int) -> tuple[float, float, str]:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        try:
            call()
        except Exception as exc:  # a failing read is reported in the table, not fatal
            return (time.perf_counter() - started) * 1000, 0.0, f"{type(exc).__name__}: {exc}"
        timings.append((time.perf_counter() - started) * 1000)
    return timings[0], statistics.median(timings), ""


def time_baselines(database_url: str, repeats: int) -> list[Timing]:
    result = []
    with psycopg.connect(psycopg_url(database_url)) as connection:
        for table in ("decisions", "alerts"):
            first, median, error = _time(
                lambda t=table: connection.execute(f"SELECT count(*) FROM {t}").fetchone(),
                repeats)
            result.append(Timing(f"SELECT count(*) FROM {table}", "baseline", first, median,
                                 error))
    return result


def time_data_functions(repeats: int) -> list[Timing]:
    from engine.db import session_scope

    result = []
    for name, function in data_functions().items():
        def call(f=function):
            with session_scope() as session:
                return f(session)
        first, median, error = _time(call, repeats)
        result.append(Timing(name, "data", first, median, error))
    return result


def time_pages(repeats: int) -> list[Timing]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    result = []
    pages = page_files()
    for page in pages:
        timings = []
        error = ""
        for _ in range(repeats):
            st.cache_data.clear()
            app = AppTest.from_file(str(APP), default_timeout=300)
            if page != pages[0]:
                # Start on the default page without timing it, then switch cold.
                app.run()
                st.cache_data.clear()
                app.switch_page(page)
            started = time.perf_counter()
            app.run()
            timings.append((time.perf_counter() - started) * 1000)
            problems = [e.value for e in app.exception] + [e.value for e in app.error]
            if problems:
                error = str(problems[0])[:120]
        result.append(Timing(f"AppTest {page}", "page", timings[0],
                             statistics.median(timings), error))
    return result


def print_results(rows: int, fill_seconds: float, timings: list[Timing],
                  repeats: int) -> Slowest | None:
    """Print the active-shape table and return its slowest data function."""
    print(f"{rows:,} decisions and {rows:,} alerts, filled in {fill_seconds:.1f}s; "
          f"first run and median of {repeats} runs, in ms; pages run with cold caches")
    baseline = max(t.median_ms for t in timings if t.kind == "baseline")
    headers = ("what", "kind", "first ms", "median ms", "ratio to COUNT(*)", "target ms",
               "verdict", "error")
    table = []
    for t in timings:
        target = TARGET_MS if t.kind == "data" else None
        verdict = ""
        if t.error:
            verdict = "failed"
        elif target is not None:
            verdict = "met" if t.median_ms <= target else "missed"
        table.append((t.name, t.kind, t.first_ms, t.median_ms,
                      t.median_ms / baseline if baseline else None, target, verdict,
                      t.error[:80]))
    print_table(headers, table)
    data = [t for t in timings if t.kind == "data" and not t.error]
    slowest = max(data, key=lambda t: t.median_ms) if data else None
    if slowest is None:
        return None
    return Slowest("active", slowest.name, slowest.median_ms,
                   slowest.median_ms / baseline if baseline else 0.0)


def run_active(args: argparse.Namespace) -> Slowest | None:
    """Fill the active shape, time its data functions and pages, and print the table."""
    repeats = args.repeats or REPEATS
    with bench_database(keep=args.keep) as database_url:
        fill_seconds = fill(database_url, args.rows, args.customers or DEFAULT_CUSTOMERS)
        point_settings_at(database_url, LOG_LEVEL="WARNING")
        timings = time_baselines(database_url, repeats)
        timings += time_data_functions(repeats)
        timings += time_pages(repeats)
        from engine.db import reset_engine

        reset_engine()
    slowest = print_results(args.rows, fill_seconds, timings, repeats)
    _print_kept(args.keep, database_url)
    return slowest


def run_history(args: argparse.Namespace) -> Slowest | None:
    """Fill the history shape, time each page's calls, and print the tables."""
    repeats = args.repeats or dashboard_history.REPEATS
    with bench_database(keep=args.keep) as database_url:
        point_settings_at(database_url, LOG_LEVEL="WARNING")
        fill_seconds = dashboard_history.fill(args.rows)
        baselines = time_baselines(database_url, repeats)
        timings = dashboard_history.time_page_calls(repeats)
        from engine.db import reset_engine

        reset_engine()
    slowest = dashboard_history.print_results(args.rows, fill_seconds, baselines, timings,
                                              repeats)
    _print_kept(args.keep, database_url)
    if slowest is None:
        return None
    baseline = max(t.median_ms for t in baselines)
    return Slowest("history", f"{slowest.page}: {slowest.name}", slowest.median_ms,
                   slowest.median_ms / baseline if baseline else 0.0)


def _print_kept(keep: bool, database_url: str) -> None:
    if keep:
        libpq_url = make_url(database_url).set(drivername="postgresql")
        print(f"kept database {libpq_url.render_as_string(hide_password=True)}; "
              f"drop it with DROP DATABASE when done")


def print_summary(results: list[Slowest], label_shape: bool) -> None:
    """Print the slowest read and, as the last line, its ratio to the COUNT(*) baseline."""
    if not results:
        return
    slowest = max(results, key=lambda r: r.ratio)
    shape = f" ({slowest.shape} shape)" if label_shape else ""
    print(f"slowest data function: {slowest.name} {slowest.median_ms:.1f} ms{shape}")
    print(f"ratio_to_baseline={slowest.ratio:.2f}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dashboard",
        description=__doc__.splitlines()[0],
        epilog="The last line is ratio_to_baseline=X: the slowest data function's median "
               "over the slower COUNT(*) of its database. With --shape both it is the larger "
               "ratio of the two shapes.")
    parser.add_argument(
        "--shape", choices=SHAPES, default="active",
        help="data to fill and reads to time. active: 60%% of the decisions in the active "
             "book over --customers customers, then every session-only data function and "
             "an AppTest run of every page. history: decisions spread over the last 365 "
             "days with 2%% active, one alert each, one pipeline run per ten decisions and "
             "the 40 demo customers, then each page's read models with the page's "
             "arguments. both: active, then history, each in its own database "
             "(default active)")
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="decisions and alerts to insert, each (default 1000000)")
    parser.add_argument("--customers", type=int, default=None,
                        help="customers the rows spread over, active shape only "
                             f"(default {DEFAULT_CUSTOMERS})")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per measurement; the history shape runs each call once "
                             "more first, as a warm-up left out of the median and max "
                             f"(default {REPEATS} for active, "
                             f"{dashboard_history.REPEATS} for history)")
    parser.add_argument("--keep", action="store_true",
                        help="keep each filled database instead of dropping it, and print "
                             "its URL, for EXPLAIN ANALYZE")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("rows", "customers", "repeats"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} {value} is invalid: give a positive number")
    if args.customers is not None and args.shape == "history":
        parser.error("--customers is invalid with --shape history, which uses the 40 demo "
                     "customers: drop --customers or use --shape active or both")

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    install_sigterm_exit()
    print(machine_line())
    results = []
    if args.shape in ("active", "both"):
        results.append(run_active(args))
    if args.shape == "both":
        print()
    if args.shape in ("history", "both"):
        results.append(run_history(args))
    print_summary([r for r in results if r is not None], label_shape=args.shape == "both")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
