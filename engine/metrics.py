"""Prometheus metrics, defined once per process and shared across processes.

Names are part of the operations interface: the runbook's queries use
``http_request_duration_seconds``, ``http_requests_total`` and
``decisions_generated_total``, and the alert rules and dashboards in
``deploy/`` use the rest.

Every process (API replicas, workers, the dashboard) writes its values to
memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR``, and ``/metrics`` sums the
files (see ``engine/metrics_export.py``). Counters therefore total across
processes, and a counter of a process that exited stays in the sum, so a
scraped counter never goes backwards.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

from engine import db
from engine.settings import SettingsError, get_settings

log = logging.getLogger(__name__)


def _prepare_multiprocess_dir() -> str:
    path = Path(get_settings().PROMETHEUS_MULTIPROC_DIR).resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(
            f"PROMETHEUS_MULTIPROC_DIR={str(path)!r} cannot be created ({exc.strerror}); "
            "point it at a writable directory"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise SettingsError(
            f"PROMETHEUS_MULTIPROC_DIR={str(path)!r} is not writable; "
            "point it at a writable directory"
        )
    # prometheus_client chooses multiprocess mode from the environment when it is
    # imported, and reads the directory from it again for every file it opens.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return str(path)


MULTIPROCESS_DIR = _prepare_multiprocess_dir()

from prometheus_client import Counter, Gauge, Histogram, multiprocess, values  # noqa: E402

if not getattr(values.ValueClass, "_multiprocess", False):
    # NOTE: this happens only when prometheus_client was imported before this
    # module with the variable unset. This process's values are then missing
    # from the /metrics of other processes.
    log.warning(
        "prometheus_client was imported before engine.metrics; metrics of process %d "
        "are not shared through %s", os.getpid(), MULTIPROCESS_DIR,
    )

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
API_RATE_LIMITED = Counter(
    "riskcast_api_rate_limited_total",
    "Ops API requests rejected with 429, by the backend that counted them.", ["backend"],
)
API_AUTH_FAILURES = Counter(
    "riskcast_api_auth_failures_total",
    "Ops API requests rejected with 401, by reason.", ["reason"],
)
IDEMPOTENT_REPLAYS = Counter(
    "riskcast_api_idempotent_replays_total",
    "POST requests answered from a stored response of the same Idempotency-Key.",
)
METRICS_REFRESH_FAILURES = Counter(
    "riskcast_metrics_refresh_failures_total",
    "Scrapes whose shared-state gauges could not be refreshed, by source.", ["source"],
)
# The gauges below, except the pool ones, are set at scrape time by the ops API
# from shared state (Redis and the database), so every replica reports the same
# values and the most recent scrape wins.
CIRCUIT_STATE = Gauge("riskcast_circuit_state",
                      "Circuit state: 0 closed, 1 half-open, 2 open.", ["name"],
                      multiprocess_mode="mostrecent")
CIRCUITS_OPEN = Gauge("riskcast_circuits_open", "Number of open circuits.",
                      multiprocess_mode="mostrecent")
ALERT_QUEUE_DEPTH = Gauge("riskcast_alert_queue_depth", "Alerts waiting to be sent.",
                          multiprocess_mode="mostrecent")
WORKER_HEARTBEAT_AGE = Gauge("riskcast_worker_heartbeat_age_seconds",
                             "Seconds since the newest worker heartbeat.",
                             multiprocess_mode="mostrecent")
# Each process keeps its own pool, so these two are summed over live processes.
DB_POOL_CHECKED_OUT = Gauge("riskcast_db_pool_checked_out",
                            "Database connections checked out of this process's pool.",
                            multiprocess_mode="livesum")
DB_POOL_CAPACITY = Gauge("riskcast_db_pool_capacity",
                         "POOL_SIZE + MAX_OVERFLOW of this process's pool.",
                         multiprocess_mode="livesum")


def _forget_this_process() -> None:
    """Drop this process's live gauges (pool usage) from the shared directory."""
    try:
        multiprocess.mark_process_dead(os.getpid(), MULTIPROCESS_DIR)
    except OSError as exc:
        log.warning("could not remove the metric files of process %d: %s", os.getpid(), exc)


atexit.register(_forget_this_process)


# --- pool usage, kept current by pool events in every process ---------------
# NOTE: connections checked out before this module is imported are not
# counted; the API and the worker import it before they open any.

_pool_lock = threading.Lock()
# Connection records of the application pool that are checked out now.
_checked_out: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _application_pool() -> Pool | None:
    """Return the pool of ``db.get_engine()``, without creating the engine."""
    if not db.get_engine.cache_info().currsize:
        return None
    return db.get_engine().pool


def _pool_capacity(pool: Pool | None) -> int:
    size = getattr(pool, "size", None)
    if not callable(size):
        return 0
    # QueuePool exposes the overflow limit only as a private attribute.
    return int(size()) + max(int(getattr(pool, "_max_overflow", 0)), 0)


def _publish_pool_usage(pool: Pool | None) -> None:
    DB_POOL_CHECKED_OUT.set(len(_checked_out))
    DB_POOL_CAPACITY.set(_pool_capacity(pool))


@event.listens_for(Pool, "checkout")
def _on_checkout(_dbapi_connection, connection_record, connection_proxy) -> None:
    application_pool = _application_pool()
    # The proxied connection names its pool only through a private attribute.
    if getattr(connection_proxy, "_pool", None) is not application_pool:
        return
    with _pool_lock:
        _checked_out[connection_record] = True
        _publish_pool_usage(application_pool)


@event.listens_for(Pool, "checkin")
def _on_checkin(_dbapi_connection, connection_record) -> None:
    with _pool_lock:
        if _checked_out.pop(connection_record, None) is not None:
            _publish_pool_usage(_application_pool())


def pool_checked_out() -> int:
    """Return how many application-pool connections this process holds, as published."""
    with _pool_lock:
        return len(_checked_out)


# --- counts that only become true when their transaction commits -------------

_PENDING = "riskcast.metrics.pending"


def count_on_commit(session: Session, counter: Counter, amount: float = 1) -> None:
    """Add ``amount`` to ``counter`` once ``session`` commits; a rollback drops it.

    Counting at commit keeps a transaction that rolls back and is redone (a
    failed pipeline tick, for example) from counting the same work twice.
    """
    if amount:
        session.info.setdefault(_PENDING, []).append((counter, amount))


@event.listens_for(Session, "after_commit")
def _apply_pending(session: Session) -> None:
    for counter, amount in session.info.pop(_PENDING, []):
        counter.inc(amount)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
