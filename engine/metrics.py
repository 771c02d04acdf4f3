"""Prometheus metrics, defined once per process.

Names are part of the operations interface: the runbook's queries use
``http_request_duration_seconds``, ``http_requests_total`` and
``decisions_generated_total``, and the alert rules and dashboards in
``deploy/`` use the rest.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Ops API request latency in seconds.",
    ["method", "path"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
HTTP_REQUESTS = Counter(
    "http_requests_total", "Ops API requests by method, route and status code.",
    ["method", "path", "status"],
)
DECISIONS_GENERATED = Counter(
    "decisions_generated_total", "Decisions created or materially changed."
)
TICKS = Counter("riskcast_ticks_total", "Pipeline ticks by outcome.", ["outcome"])
TICK_DURATION = Histogram(
    "riskcast_tick_duration_seconds", "Pipeline tick duration in seconds.",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120),
)
JOB_RUNS = Counter("riskcast_job_runs_total", "Worker job runs by job and outcome.",
                   ["job", "outcome"])
JOB_MISSED = Counter("riskcast_job_missed_total", "Worker job runs missed or skipped.", ["job"])
ALERTS_SENT = Counter("riskcast_alerts_sent_total", "Alert send attempts by outcome.",
                      ["outcome"])
TWILIO_RATE_LIMITED = Counter("riskcast_twilio_rate_limited_total",
                              "Twilio 429 answers, counted apart from outages.")
SOURCE_FETCHES = Counter("riskcast_source_fetches_total", "Source fetches by outcome.",
                         ["source", "outcome"])
SOURCE_DATA_ERRORS = Counter("riskcast_source_data_errors_total",
                             "Records rejected by a source's parser.", ["source"])
BREAKER_STORAGE_FALLBACKS = Counter(
    "riskcast_breaker_storage_fallback_total",
    "Times a breaker fell back to in-process state because Redis failed.", ["name"],
)
# Gauges below are set at scrape time by the ops API from shared state
# (Redis and the database), so every replica reports the same values.
CIRCUIT_STATE = Gauge("riskcast_circuit_state",
                      "Circuit state: 0 closed, 1 half-open, 2 open.", ["name"],
                      multiprocess_mode="mostrecent")
CIRCUITS_OPEN = Gauge("riskcast_circuits_open", "Number of open circuits.",
                      multiprocess_mode="mostrecent")
ALERT_QUEUE_DEPTH = Gauge("riskcast_alert_queue_depth", "Alerts waiting to be sent.",
                          multiprocess_mode="mostrecent")
DB_POOL_CHECKED_OUT = Gauge("riskcast_db_pool_checked_out",
                            "Database connections checked out of this process's pool.",
                            multiprocess_mode="livesum")
DB_POOL_CAPACITY = Gauge("riskcast_db_pool_capacity",
                         "POOL_SIZE + MAX_OVERFLOW of this process's pool.",
                         multiprocess_mode="livesum")
WORKER_HEARTBEAT_AGE = Gauge("riskcast_worker_heartbeat_age_seconds",
                             "Seconds since the newest worker heartbeat.",
                             multiprocess_mode="mostrecent")
