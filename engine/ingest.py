"""Fetch every source, store what it produced, and record each source's freshness.

The fetch stage runs before anything is written: live sources are fetched in
parallel, each through its circuit breaker, and the whole stage stops waiting
after ``SOURCE_FETCH_BUDGET_SECONDS`` so a hanging source cannot hold the
tick. Parsing happens outside the breakers: a record that does not parse is a
data error, counted per source, never an outage.
"""

from __future__ import annotations

import functools
import logging
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import breakers, sources
from engine.clock import as_utc
from engine.http import SourceUnavailable
from engine.metrics import SOURCE_DATA_ERRORS, SOURCE_FETCHES
from engine.models import RealityObservation, Signal, SourceStatus
from engine.models.base import utcnow
from engine.reality import reconcile, transits
from engine.records import RejectedRecord
from engine.settings import Settings, get_settings
from engine.sources.base import Adapter, Fetched, Parsed
from engine.storage import insert_ignore

log = logging.getLogger(__name__)

# Live records stamped slightly ahead of this host's clock are still taken.
CLOCK_SKEW = timedelta(minutes=5)
# Rejections logged one by one per source and tick; the rest are summed up.
LOGGED_REJECTIONS = 3


@dataclass
class SourceOutcome:
    source: str
    outcome: str  # ok, partial, failed, circuit_open, timed_out, not_configured
    error: str | None = None
    parsed: Parsed | None = None
    new_records: int = 0
    new_rejections: int = 0
    newest: datetime | None = None


@dataclass
class IngestResult:
    signals: int = 0
    observations: int = 0
    sightings: int = 0
    sources: dict[str, SourceOutcome] = field(default_factory=dict)
    reconciliations: dict[str, str] = field(default_factory=dict)
    breaker_storage: str = "redis"

    def __iter__(self):
        # Unpacks as (signals, observations), what the pipeline summary needs.
        return iter((self.signals, self.observations))


def run(session: Session, settings: Settings, as_of: datetime) -> IngestResult:
    """Fetch, parse and store every source for ``as_of``; return what changed."""
    adapters = sources.build(settings)
    outcomes = fetch_all(adapters, as_of, settings.SOURCE_FETCH_BUDGET_SECONDS)
    result = IngestResult(sources=outcomes)
    result.breaker_storage = "memory" if breakers.degraded() else "redis"
    store(session, adapters, outcomes, as_of, result)

    result.reconciliations = reconcile.reconcile_day(session, as_of)
    breakers.flush_events(session)
    log.info("%s", summary_line(as_of, settings.SOURCE_MODE, result))
    return result


def ingest_replay(session: Session, as_of: datetime) -> tuple[int, int]:
    """Store the recorded data known by ``as_of``; return (new signals, new observations)."""
    result = run(session, get_settings().model_copy(update={"SOURCE_MODE": "replay"}), as_of)
    return result.signals, result.observations


# -- fetch stage ------------------------------------------------------------------


def _no_guard(function, *args, **kwargs):
    return function(*args, **kwargs)


def fetch_one(adapter: Adapter, as_of: datetime) -> tuple[str, Fetched | None, str | None]:
    """Fetch one source; return (outcome, fetched payload, error)."""
    missing = adapter.missing_configuration()
    if missing:
        return "not_configured", None, missing
    guard = _no_guard if adapter.mode == "replay" else breakers.breaker(adapter.circuit).call
    try:
        fetched = adapter.fetch(as_of, guard)
    except breakers.CircuitOpenError as exc:
        return ("failed" if exc.tripped else "circuit_open"), None, str(exc)
    except SourceUnavailable as exc:
        return "failed", None, str(exc)
    except Exception as exc:  # noqa: BLE001 - any fetch failure is this source's outage
        log.warning("source %s: fetch failed unexpectedly", adapter.name, exc_info=True)
        return "failed", None, f"{type(exc).__name__}: {exc}"
    outcome = "partial" if fetched.errors else "ok"
    return outcome, fetched, "; ".join(fetched.errors) or None


def fetch_all(adapters: list[Adapter], as_of: datetime, budget: float
              ) -> dict[str, SourceOutcome]:
    """Fetch and parse every source; live fetches run in parallel within ``budget`` seconds."""
    if all(adapter.mode == "replay" for adapter in adapters):
        results = {adapter.name: fetch_one(adapter, as_of) for adapter in adapters}
    else:
        executor = ThreadPoolExecutor(max_workers=len(adapters), thread_name_prefix="source")
        futures = {adapter.name: executor.submit(fetch_one, adapter, as_of)
                   for adapter in adapters}
        wait(futures.values(), timeout=budget)
        # Threads still running stop at their own timeouts, and the tick does not wait.
        executor.shutdown(wait=False, cancel_futures=True)
        results = {}
        for name, future in futures.items():
            if future.done() and not future.cancelled():
                results[name] = future.result()
            else:
                results[name] = ("timed_out", None,
                                 f"no answer within the fetch budget of {budget:g}s "
                                 "(SOURCE_FETCH_BUDGET_SECONDS)")

    outcomes = {}
    for adapter in adapters:
        outcome, fetched, error = results[adapter.name]
        SOURCE_FETCHES.labels(adapter.name, outcome).inc()
        parsed = _parse(adapter, fetched.payload, as_of) if fetched is not None else None
        outcomes[adapter.name] = SourceOutcome(adapter.name, outcome, error, parsed)
    return outcomes


def _parse(adapter: Adapter, payload, as_of: datetime) -> Parsed:
    try:
        return adapter.parse(payload, as_of)
    except Exception as exc:  # noqa: BLE001 - a parser bug must not stop the other sources
        log.exception("source %s: parser failed on the whole payload", adapter.name)
        return Parsed(rejected=[RejectedRecord(adapter.name, "payload",
                                               f"parser failed: {type(exc).__name__}: {exc}")])


# -- store stage --------------------------------------------------------------------


def _newest(session: Session, column, source_column) -> dict[str, datetime]:
    rows = session.execute(select(source_column, func.max(column)).group_by(source_column)).all()
    return {source: as_utc(newest) for source, newest in rows if newest is not None}


def store(session: Session, adapters: list[Adapter], outcomes: dict[str, SourceOutcome],
          as_of: datetime, result: IngestResult) -> None:
    newest_signal = _newest(session, Signal.observed_at, Signal.source)
    newest_obs = _newest(session, RealityObservation.observed_at, RealityObservation.source)
    for adapter in adapters:
        outcome = outcomes[adapter.name]
        parsed = outcome.parsed
        if parsed is not None:
            limit = as_of if adapter.mode == "replay" else as_of + CLOCK_SKEW
            replay = adapter.mode == "replay"
            signals = [s.row() for s in parsed.signals if _due(
                s.observed_at, limit, newest_signal.get(s.source) if replay else None)]
            observations = [o.row() for o in parsed.observations if _due(
                o.observed_at, limit, newest_obs.get(o.source) if replay else None)]
            positions = [p for p in parsed.positions if p.at <= limit]

            added_signals = insert_ignore(session, Signal.__table__, signals,
                                          ["source", "external_id", "observed_at"])
            added_obs = insert_ignore(session, RealityObservation.__table__, observations,
                                      ["source", "chokepoint", "metric", "observed_at"])
            added_sightings = transits.store_sightings(session, positions) if positions else 0
            result.signals += added_signals
            result.observations += added_obs
            result.sightings += added_sightings
            outcome.new_records = added_signals + added_obs + added_sightings
            times = [r["observed_at"] for r in signals + observations] + [p.at for p in positions]
            outcome.newest = max(times, default=None)
            outcome.new_rejections = _count_rejections(adapter, parsed.rejected)
        _mark(session, outcome)

    daily = transits.daily_observations(session, as_of)
    result.observations += insert_ignore(session, RealityObservation.__table__,
                                         [o.row() for o in daily],
                                         ["source", "chokepoint", "metric", "observed_at"])


def _due(observed_at: datetime, limit: datetime, newest_stored: datetime | None) -> bool:
    if observed_at > limit:
        return False
    # Replay skips what is older than the newest stored row of the source: it
    # was offered on an earlier tick already.
    return newest_stored is None or observed_at >= newest_stored


_reported: set[tuple[str, str, str]] = set()


def _count_rejections(adapter: Adapter, rejected: list[RejectedRecord]) -> int:
    """Count and log rejections; replay counts each recorded one once per process."""
    if adapter.mode == "replay":
        fresh = [r for r in rejected if (r.source, r.reference, r.reason) not in _reported]
        _reported.update((r.source, r.reference, r.reason) for r in fresh)
    else:
        fresh = list(rejected)
    if not fresh:
        return 0
    SOURCE_DATA_ERRORS.labels(adapter.name).inc(len(fresh))
    for record in fresh[:LOGGED_REJECTIONS]:
        log.warning("source %s: rejected %s: %s", adapter.name, record.reference, record.reason)
    if len(fresh) > LOGGED_REJECTIONS:
        log.warning("source %s: rejected %d more records", adapter.name,
                    len(fresh) - LOGGED_REJECTIONS)
    return len(fresh)


def _mark(session: Session, outcome: SourceOutcome) -> None:
    status = session.get(SourceStatus, outcome.source)
    if status is None:
        status = SourceStatus(source=outcome.source, records_total=0, data_errors_total=0)
        session.add(status)
    now = utcnow()
    status.records_total = (status.records_total or 0) + outcome.new_records
    status.data_errors_total = (status.data_errors_total or 0) + outcome.new_rejections
    if outcome.outcome in ("ok", "partial"):
        status.last_success_at = now
        if outcome.newest is not None:
            previous = as_utc(status.newest_data_at) if status.newest_data_at else None
            status.newest_data_at = max(outcome.newest, previous or outcome.newest)
        if outcome.outcome == "ok":
            status.last_error = None
    if outcome.outcome in ("partial", "failed", "circuit_open", "timed_out"):
        status.last_failure_at = now
    if outcome.error:
        status.last_error = f"{outcome.outcome}: {outcome.error}"[:2000]


def summary_line(as_of: datetime, mode: str, result: IngestResult) -> str:
    parts = []
    for name, outcome in result.sources.items():
        text = f"{name} {outcome.outcome}"
        if outcome.new_records:
            text += f" +{outcome.new_records}"
        if outcome.new_rejections:
            text += f" ({outcome.new_rejections} rejected)"
        parts.append(text)
    line = (f"ingest at {as_of.isoformat()} ({mode}): {', '.join(parts)}; "
            f"{result.signals} signals, {result.observations} observations, "
            f"{result.sightings} sightings")
    if result.breaker_storage != "redis":
        line += "; degraded: breaker state in this process only (Redis unavailable)"
    return line


@functools.lru_cache(maxsize=1)
def replay_signals() -> tuple[tuple, tuple]:
    """Parse every recorded signal once per process, which fills the replay caches."""
    records, rejected = [], []
    for adapter in sources.build(get_settings(), "replay"):
        if adapter.name not in sources.SIGNAL_SOURCES:
            continue
        parsed = adapter.parse(adapter.fetch(datetime.max, _no_guard).payload, datetime.max)
        records += parsed.signals
        rejected += parsed.rejected
    return tuple(records), tuple(rejected)


@functools.lru_cache(maxsize=1)
def replay_observations() -> tuple[tuple, tuple]:
    """Parse every recorded observation once per process, which fills the replay caches."""
    records, rejected = [], []
    for adapter in sources.build(get_settings(), "replay"):
        if adapter.name not in sources.REALITY_SOURCES:
            continue
        parsed = adapter.parse(adapter.fetch(datetime.max, _no_guard).payload, datetime.max)
        records += parsed.observations
        rejected += parsed.rejected
    return tuple(records), tuple(rejected)
