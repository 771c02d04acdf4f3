"""Store what the sources produced, deduplicated, and record each source's freshness."""

from __future__ import annotations

import functools
import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.clock import as_utc
from engine.models import RealityObservation, Signal, SourceStatus
from engine.models.base import utcnow
from engine.records import ObservationRecord, RejectedRecord, SignalRecord
from engine.reality import freight, portwatch
from engine.signals import gdelt, polymarket
from engine.storage import insert_ignore

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def replay_signals() -> tuple[tuple[SignalRecord, ...], tuple[RejectedRecord, ...]]:
    """Every recorded signal, parsed once per process."""
    news, news_rejected = gdelt.parse_weekly()
    markets, market_rejected = polymarket.parse_markets(polymarket.load_replay_markets())
    return tuple(news + markets), tuple(news_rejected + market_rejected)


@functools.lru_cache(maxsize=1)
def replay_observations() -> tuple[tuple[ObservationRecord, ...], tuple[RejectedRecord, ...]]:
    series, transit_rejected = portwatch.read_daily()
    rates, rate_rejected = freight.parse_weekly()
    return tuple(portwatch.observations(series) + rates), tuple(transit_rejected + rate_rejected)


def _newest(session: Session, column, source_column) -> dict[str, datetime]:
    rows = session.execute(select(source_column, func.max(column)).group_by(source_column)).all()
    return {source: as_utc(newest) for source, newest in rows if newest is not None}


def ingest_replay(session: Session, as_of: datetime) -> tuple[int, int]:
    """Store recorded signals and observations known by ``as_of``; return new counts."""
    signals, _ = replay_signals()
    observations, _ = replay_observations()

    newest_signal = _newest(session, Signal.observed_at, Signal.source)
    fresh_signals = [
        s.row() for s in signals
        if s.observed_at <= as_of and s.observed_at >= newest_signal.get(s.source, s.observed_at)
    ]
    newest_obs = _newest(session, RealityObservation.observed_at, RealityObservation.source)
    fresh_obs = [
        o.row() for o in observations
        if o.observed_at <= as_of and o.observed_at >= newest_obs.get(o.source, o.observed_at)
    ]
    added_signals = insert_ignore(session, Signal.__table__, fresh_signals,
                                  ["source", "external_id", "observed_at"])
    added_obs = insert_ignore(session, RealityObservation.__table__, fresh_obs,
                              ["source", "chokepoint", "metric", "observed_at"])

    for source in {s["source"] for s in fresh_signals} | {"gdelt", "polymarket"}:
        _mark(session, source, [s for s in fresh_signals if s["source"] == source],
              newest_signal.get(source))
    for source in {o["source"] for o in fresh_obs} | {"portwatch", "scfi"}:
        _mark(session, source, [o for o in fresh_obs if o["source"] == source],
              newest_obs.get(source))
    return added_signals, added_obs


def _mark(session: Session, source: str, rows: list[dict], previous: datetime | None) -> None:
    status = session.get(SourceStatus, source)
    if status is None:
        status = SourceStatus(source=source, records_total=0, data_errors_total=0)
        session.add(status)
    newest = max((r["observed_at"] for r in rows), default=previous)
    status.last_success_at = utcnow()
    status.newest_data_at = newest
    status.records_total = (status.records_total or 0) + len(rows)
