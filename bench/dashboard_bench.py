"""Time every dashboard page's data functions on one million decisions and alerts.

Creates a throwaway PostgreSQL database, fills it in SQL (a year of
decisions, about 2 % of them still in the active book, and one alert per
decision), runs ``VACUUM ANALYZE``, then times each read model the pages
call. Prints one Markdown table; the database is dropped afterwards.

    python -m bench.dashboard_bench [--rows 1000000] [--repeat 5]

Needs TEST_POSTGRES_URL (default: the local server as user postgres).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BUDGET_MS = 300.0

FILL_DECISIONS = """
INSERT INTO decisions (customer_id, event_key, chokepoint, version, status, severity,
    recommended_action, exposure_usd, expected_loss_usd, action_cost_usd, net_benefit_usd,
    probability, confidence, shipment_count, deadline, expires_at, is_expired, as_of,
    answers, provenance, fingerprint, created_at, updated_at)
SELECT c.id, cp || '\:disruption', cp, g, st, sev,
    (ARRAY['REROUTE','DELAY','INSURE','MONITOR','DO_NOTHING'])[1 + g % 5],
    200000 + (g % 97) * 25000, 5000 + (g % 89) * 4000, 1000 + g % 50 * 300, g % 40 * 900,
    0.2 + (g % 7) / 10.0, 0.4 + (g % 5) / 10.0, 1 + g % 6,
    ts + interval '5 days', ts + interval '7 days', NOT active, ts,
    jsonb_build_object('what', jsonb_build_object('chokepoint', cp, 'sources', '[]'::jsonb),
        'when', jsonb_build_array(jsonb_build_object('shipment_id', c.id || '-S001',
            'reaches_at', ts + interval '3 days'))),
    jsonb_build_object('circuits', jsonb_build_object(
        'polymarket', CASE WHEN g % 100 = 0 THEN 'open' ELSE 'closed' END,
        'twilio', 'closed', 'ais', 'closed', 'news', 'closed', 'database', 'closed',
        'redis', 'closed'), 'signals', '[]'::jsonb, 'observations', '[]'::jsonb),
    md5(g::text), ts, ts
FROM (
    SELECT g,
        now() - (:rows - g) * (interval '365 days' / :rows) AS ts,
        g > :rows * 0.98 AS active,
        (ARRAY['bab_el_mandeb','suez','hormuz','malacca','panama','taiwan',
               'gibraltar','dover'])[1 + g % 8] AS cp,
        (ARRAY['LOW','LOW','MEDIUM','MEDIUM','MEDIUM','HIGH','HIGH','CRITICAL'])[1 + g % 8]
            AS sev,
        CASE WHEN g > :rows * 0.98 THEN (ARRAY['OPEN','OPEN','ACKNOWLEDGED'])[1 + g % 3]
             WHEN g % 3 = 0 THEN 'SUPERSEDED' ELSE 'EXPIRED' END AS st,
        1 + g % 40 AS customer_number
    FROM generate_series(1, :rows) AS g
) AS s
JOIN customers c ON c.id = 'CUST-' || lpad(s.customer_number::text, 4, '0')
"""

FILL_ALERTS = """
INSERT INTO alerts (decision_id, decision_version, customer_id, recipient, kind, urgency,
    status, attempts, next_attempt_at, last_error_code, last_error_message, idempotency_key,
    reference, body, simulated, created_at, updated_at, sent_at)
SELECT d.id, 1, d.customer_id, '+447700900' || lpad((d.id % 1000)::text, 3, '0'), 'DECISION',
    'standard', st, 1, d.created_at,
    CASE WHEN st = 'FAILED' THEN (ARRAY['63016','21211','30003'])[1 + d.id % 3] END,
    CASE WHEN st = 'FAILED' THEN 'recipient error' END,
    'decision:' || d.id || '\:v1', 'RC' || upper(substr(md5(d.id::text), 1, 8)),
    'RISKCAST alert body', true, d.created_at, d.created_at,
    d.created_at
FROM (SELECT id, customer_id, created_at,
        CASE WHEN id % 200 = 0 THEN 'FAILED' WHEN id % 50 = 0 THEN 'PENDING'
             WHEN id % 3 = 0 THEN 'DELIVERED' ELSE 'SENT' END AS st
      FROM decisions) AS d
"""

FILL_RUNS = """
INSERT INTO pipeline_runs (job, status, started_at, finished_at, replay_at, signals,
    observations, decisions, alerts, duration_seconds)
SELECT (ARRAY['tick','dispatch'])[1 + g % 2], CASE WHEN g % 97 = 0 THEN 'failed' ELSE 'ok' END,
    now() - g * interval '1 minute', now() - g * interval '1 minute' + interval '1 second',
    now() - g * interval '1 minute', g % 5, g % 7, g % 30, g % 20, 0.2 + (g % 10) / 10.0
FROM generate_series(1, :runs) AS g
"""


def _create_database() -> tuple[str, str]:
    from engine.settings import normalise_database_url

    admin_url = normalise_database_url(ADMIN_URL)
    name = f"riskcast_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return name, url


def _drop_database(name: str) -> None:
    from engine.settings import normalise_database_url

    admin = create_engine(normalise_database_url(ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name})
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def fill(rows: int) -> None:
    from engine import book, db
    from engine.db import get_engine, session_scope

    db.migrate()
    with session_scope() as session:
        book.load_demo_book(session)
    engine = get_engine()
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text(FILL_DECISIONS), {"rows": rows})
        connection.execute(text(FILL_ALERTS))
        connection.execute(text(FILL_RUNS), {"runs": 100_000})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    print(f"filled {rows:,} decisions and alerts in {time.perf_counter() - started:.0f} s")


def page_functions() -> dict[str, list[tuple[str, Callable]]]:
    """Map each page to the read models it calls, as (name, fn(session)) pairs."""
    from engine import breakers
    from engine.clock import domain_now
    from engine.decisions.lifecycle import preview_cleanup
    from engine.models.base import utcnow
    from engine.queries import exposure_by_customer, overview
    from engine.readmodels import alerts, circuits, decisions, exposure, ops, pipeline, runbook
    from engine.readmodels import trends
    from engine.readmodels.monitoring import traffic_lights
    from engine.settings import get_settings

    settings = get_settings()
    now = utcnow()
    active = decisions.DecisionFilter()
    searched = decisions.DecisionFilter(active_only=False, severities=["HIGH"], search="Baltic",
                                        created_days=30)
    searched_all = decisions.DecisionFilter(active_only=False, severities=["HIGH"],
                                            search="Baltic")

    def latest_decision(session):
        found, _total = decisions.search_decisions(session, active, limit=1)
        return decisions.decision_detail(session, int(found["id"].iloc[0]))

    def latest_alert(session):
        queue = alerts.alert_queue(session, ["FAILED"], limit=1)
        return alerts.alert_detail(session, int(queue["id"].iloc[0]))

    return {
        "Overview": [
            ("overview", overview),
            ("traffic_lights", lambda s: traffic_lights(s, now, settings, breakers.snapshot(),
                                                        None, "not scraped", (0, 30))),
        ],
        "Exposure": [
            ("exposure_by_customer", exposure_by_customer),
            ("exposure_by_chokepoint", exposure.exposure_by_chokepoint),
            ("affected_shipments", lambda s: exposure.affected_shipments(s, now)),
        ],
        # The trends page reads one window at a time, so each window is a view.
        **{f"Severity trends ({w})": [
            (f"severity_trend[{w}]", lambda s, w=w: trends.severity_trend(
                s, w, now, now - timedelta(days=120), now))] for w in trends.WINDOWS},
        "Decisions": [
            ("search_decisions[active]", lambda s: decisions.search_decisions(s, active)),
            ("search_decisions[HIGH, 'Baltic', last 30 days]",
             lambda s: decisions.search_decisions(s, searched)),
            ("decision_detail", latest_decision),
        ],
        # Searching a year of history is a deliberate choice in the filters.
        "Decisions (all history)": [
            ("search_decisions[HIGH, 'Baltic', all history]",
             lambda s: decisions.search_decisions(s, searched_all)),
        ],
        "Alerts": [
            ("alerts_by_status", alerts.alerts_by_status),
            ("failures_by_code", alerts.failures_by_code),
            ("alert_queue[all]", lambda s: alerts.alert_queue(s)),
            ("alert_queue[FAILED]", lambda s: alerts.alert_queue(s, ["FAILED"])),
            ("alert_detail", latest_alert),
        ],
        "Circuits": [
            ("transitions_by_circuit", circuits.transitions_by_circuit),
            ("circuit_history", circuits.circuit_history),
        ] + [(f"impact_while_open[{n}]", lambda s, n=n: circuits.impact_while_open(s, n))
             for n in breakers.SPECS],
        "Pipeline": [
            ("recent_runs", pipeline.recent_runs),
            ("job_summary", lambda s: pipeline.job_summary(s, now)),
            ("source_freshness", lambda s: pipeline.source_freshness(s, now, now)),
            ("heartbeats", lambda s: pipeline.heartbeats(s, now)),
        ],
        "Maintenance": [
            ("preview_cleanup", lambda s: preview_cleanup(s, domain_now(s, settings))),
            ("table_stats", ops.table_stats),
            ("audit_log", ops.audit_log),
        ],
        "Reports": [
            ("active_decisions_by_customer", runbook.active_decisions_by_customer),
            ("decisions_by_severity", lambda s: runbook.decisions_by_severity(s, now)),
            ("customer_activity", runbook.customer_activity),
        ],
    }


def measure(repeat: int) -> list[tuple[str, str, float, float]]:
    from engine.db import session_scope

    results = []
    for page, functions in page_functions().items():
        for name, fn in functions:
            timings = []
            for _ in range(repeat + 1):
                started = time.perf_counter()
                with session_scope() as session:
                    fn(session)
                timings.append((time.perf_counter() - started) * 1000.0)
            timings = timings[1:]  # the first run warms caches
            results.append((page, name, statistics.median(timings), max(timings)))
    return results


def report(results: list[tuple[str, str, float, float]]) -> str:
    lines = ["| Page | Data function | Median ms | Max ms |", "|---|---|---:|---:|"]
    pages: dict[str, float] = {}
    for page, name, median, longest in results:
        pages[page] = pages.get(page, 0.0) + median
        flag = " (over budget)" if median > BUDGET_MS else ""
        lines.append(f"| {page} | {name}{flag} | {median:.1f} | {longest:.1f} |")
    lines += ["", "| Page | All its data functions, median ms |", "|---|---:|"]
    lines += [f"| {page} | {total:.1f} |" for page, total in pages.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="decisions to generate, and as many alerts (default %(default)s)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the filled database and print its URL, for EXPLAIN")
    parser.add_argument("--repeat", type=int, default=5,
                        help="timed runs per function after one warm-up (default %(default)s)")
    args = parser.parse_args(argv)

    from engine import db
    from engine.settings import reset_settings_cache

    name, url = _create_database()
    os.environ["DATABASE_URL"] = url
    os.environ.pop("REDIS_URL", None)
    reset_settings_cache()
    db.reset_engine()
    try:
        fill(args.rows)
        results = measure(args.repeat)
    finally:
        db.reset_engine()
        if args.keep:
            print(f"kept {url}")
        else:
            _drop_database(name)
    print(report(results))
    return 1 if any(median > BUDGET_MS for _p, _n, median, _m in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
