"""The history shape of ``python -m bench.dashboard``: a year of decisions, few active.

The fill spreads the decisions evenly over the last 365 days. The newest 2 %
are in the active book (OPEN or ACKNOWLEDGED) and the rest are EXPIRED or
SUPERSEDED. Each decision has one alert, 0.5 % of the alerts are FAILED and
1 % of the decisions were made while the polymarket circuit was open. The
customers are the 40 of the demo book, and one pipeline run is stored per ten
decisions. Each read model is then called with the arguments its page passes,
so one page view is one group of calls.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text

from bench.common import print_table

TARGET_MS = 300.0
REPEATS = 5
DECISIONS_PER_RUN = 10

# Inactive decisions of one customer and chokepoint are versions of one event.
# Each active decision has an event of its own, because the partial unique
# index uq_decisions_active allows one active decision per customer and event.
FILL_DECISIONS = """
INSERT INTO decisions (customer_id, event_key, chokepoint, version, status, severity,
    recommended_action, exposure_usd, expected_loss_usd, action_cost_usd, net_benefit_usd,
    probability, confidence, shipment_count, deadline, expires_at, is_expired, as_of,
    answers, provenance, fingerprint, created_at, updated_at)
SELECT c.id,
    CASE WHEN active THEN cp || '\\:disruption-' || g ELSE cp || '\\:disruption' END,
    cp, g, st, sev,
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
    'decision:' || d.id || '\\:v1', 'RC' || upper(substr(md5(d.id::text), 1, 8)),
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


@dataclass
class CallTiming:
    page: str
    name: str
    warmup_ms: float
    median_ms: float
    max_ms: float
    error: str = ""


def pipeline_runs(rows: int) -> int:
    return max(1, rows // DECISIONS_PER_RUN)


def fill(rows: int) -> float:
    """Load the demo book, insert the history rows and return the seconds taken.

    The caller must have pointed the settings at the bench database, because
    the rows go in through the process-wide engine.
    """
    from engine import book
    from engine.db import get_engine, session_scope

    started = time.perf_counter()
    with session_scope() as session:
        book.load_demo_book(session)
    engine = get_engine()
    with engine.begin() as connection:
        connection.execute(text(FILL_DECISIONS), {"rows": rows})
        connection.execute(text(FILL_ALERTS))
        connection.execute(text(FILL_RUNS), {"runs": pipeline_runs(rows)})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    return time.perf_counter() - started


def page_calls() -> dict[str, list[tuple[str, Callable]]]:
    """Map each page view to the read models it calls, as (name, call(session)) pairs."""
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
        if found.empty:
            raise LookupError("no active decision to open; use a larger --rows")
        return decisions.decision_detail(session, int(found["id"].iloc[0]))

    def latest_alert(session):
        queue = alerts.alert_queue(session, ["FAILED"], limit=1)
        if queue.empty:
            raise LookupError("no FAILED alert to open; use --rows 200 or more")
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


def time_page_calls(repeats: int) -> list[CallTiming]:
    """Time every page call: one warm-up run, then ``repeats`` runs in a new session each."""
    return [_time_call(page, name, call, repeats)
            for page, calls in page_calls().items() for name, call in calls]


def _time_call(page: str, name: str, call: Callable, repeats: int) -> CallTiming:
    from engine.db import session_scope

    timings = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        try:
            with session_scope() as session:
                call(session)
        except Exception as exc:  # a failing read is reported in the table, not fatal
            elapsed = (time.perf_counter() - started) * 1000
            return CallTiming(page, name, timings[0] if timings else elapsed, 0.0, 0.0,
                              f"{type(exc).__name__}: {exc}")
        timings.append((time.perf_counter() - started) * 1000)
    return CallTiming(page, name, timings[0], statistics.median(timings[1:]), max(timings[1:]))


def print_results(rows: int, fill_seconds: float, baselines: list, timings: list[CallTiming],
                  repeats: int) -> CallTiming | None:
    """Print the history tables and return the slowest call that did not fail.

    ``baselines`` are the COUNT(*) timings of ``bench.dashboard`` on the same
    database. Their median is a median of all their runs, with no warm-up.
    """
    active = rows - rows * 98 // 100  # the rows with g > rows * 0.98 in FILL_DECISIONS
    print(f"history shape: {rows:,} decisions over 365 days (about {active:,} in the active "
          f"book), {rows:,} alerts and {pipeline_runs(rows):,} pipeline runs, filled in "
          f"{fill_seconds:.1f}s; one warm-up run, then median and max of {repeats} runs, "
          f"in ms")
    baseline = max(t.median_ms for t in baselines)
    headers = ("page", "what", "warm-up ms", "median ms", "max ms", "ratio to COUNT(*)",
               "target ms", "verdict", "error")
    table = [("baseline", t.name, t.first_ms, t.median_ms, None,
              t.median_ms / baseline if baseline else None, None, "", t.error[:80])
             for t in baselines]
    for t in timings:
        table.append((t.page, t.name, t.warmup_ms, t.median_ms, t.max_ms,
                      t.median_ms / baseline if baseline else None, TARGET_MS,
                      _verdict(t.median_ms, t.error), t.error[:80]))
    print_table(headers, table)
    print()
    print_table(("page view", "calls", "median ms, all calls", "target ms", "verdict"),
                _page_totals(timings))
    succeeded = [t for t in timings if not t.error]
    return max(succeeded, key=lambda t: t.median_ms) if succeeded else None


def _page_totals(timings: list[CallTiming]) -> list[tuple]:
    """Sum the median of each page view's calls, the time one view spends reading."""
    totals: dict[str, list[CallTiming]] = {}
    for t in timings:
        totals.setdefault(t.page, []).append(t)
    rows = []
    for page, calls in totals.items():
        total = sum(t.median_ms for t in calls)
        error = next((t.error for t in calls if t.error), "")
        rows.append((page, len(calls), total, TARGET_MS, _verdict(total, error)))
    return rows


def _verdict(median_ms: float, error: str) -> str:
    if error:
        return "failed"
    return "met" if median_ms <= TARGET_MS else "missed"
