"""Reconcile what the signals predicted with what transits show, per chokepoint and day.

- CONFIRMED: a signal at or above 0.5 and transits down 25% or more.
- MATERIALIZING: such a signal and transits down 10% or more.
- PREDICTED_NOT_OBSERVED: such a signal and transits not (yet) down.
- SURPRISE: no such signal, but transits down 25% or more.
- NORMAL: neither.

The status is stored in ``reconciliations`` with the signals and the
observation that led to it, one row per chokepoint and day, updated as the
day's inputs change.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.clock import as_utc
from engine.models import RealityObservation, Reconciliation, Signal
from engine.models.base import utcnow

SIGNAL_HIGH = 0.5
TRANSIT_DROP_CONFIRMED = -25.0
TRANSIT_DROP_MATERIALIZING = -10.0
SIGNAL_WINDOW = timedelta(days=14)
TRANSIT_WINDOW = timedelta(days=3)
# Transit metrics in order of preference: PortWatch's 7-day mean smooths the
# weekday pattern that a single AIS day still has.
TRANSIT_METRICS = ("transits_7d", "ais_transits")
STATUSES = ("CONFIRMED", "MATERIALIZING", "PREDICTED_NOT_OBSERVED", "SURPRISE", "NORMAL")


def classify(signal_probability: float, transit_change_pct: float | None) -> str:
    """Return the reconciliation status for a signal probability and a transit change."""
    dropped = transit_change_pct is not None and transit_change_pct <= TRANSIT_DROP_CONFIRMED
    dipping = transit_change_pct is not None and transit_change_pct <= TRANSIT_DROP_MATERIALIZING
    predicted = signal_probability >= SIGNAL_HIGH
    if predicted and dropped:
        return "CONFIRMED"
    if predicted and dipping:
        return "MATERIALIZING"
    if predicted:
        return "PREDICTED_NOT_OBSERVED"
    if dropped:
        return "SURPRISE"
    return "NORMAL"


def _latest_signals(session: Session, as_of: datetime) -> dict[str, list[dict]]:
    rows = session.execute(
        select(Signal.id, Signal.source, Signal.chokepoint, Signal.probability,
               Signal.observed_at, Signal.title)
        .where(Signal.observed_at > as_of - SIGNAL_WINDOW, Signal.observed_at <= as_of)
        .order_by(Signal.observed_at, Signal.id)
    ).all()
    latest: dict[tuple[str, str], object] = {}
    for row in rows:
        latest[(row.source, row.chokepoint)] = row
    result: dict[str, list[dict]] = {}
    for (source, chokepoint), row in latest.items():
        result.setdefault(chokepoint, []).append({
            "id": row.id, "source": source, "probability": row.probability,
            "observed_at": as_utc(row.observed_at).isoformat(), "title": row.title,
        })
    return result


def _latest_transits(session: Session, as_of: datetime) -> dict[str, dict]:
    rows = session.execute(
        select(RealityObservation.id, RealityObservation.source,
               RealityObservation.chokepoint, RealityObservation.metric,
               RealityObservation.value, RealityObservation.baseline,
               RealityObservation.change_pct, RealityObservation.observed_at)
        .where(RealityObservation.metric.in_(TRANSIT_METRICS),
               RealityObservation.observed_at > as_of - TRANSIT_WINDOW,
               RealityObservation.observed_at <= as_of,
               RealityObservation.change_pct.is_not(None))
        .order_by(RealityObservation.observed_at, RealityObservation.id)
    ).all()
    best: dict[str, object] = {}
    for row in rows:
        current = best.get(row.chokepoint)
        rank = TRANSIT_METRICS.index(row.metric)
        if current is None or rank <= TRANSIT_METRICS.index(current.metric):
            best[row.chokepoint] = row
    return {
        chokepoint: {
            "id": row.id, "source": row.source, "metric": row.metric, "value": row.value,
            "baseline": row.baseline, "change_pct": row.change_pct,
            "observed_at": as_utc(row.observed_at).isoformat(),
        }
        for chokepoint, row in best.items()
    }


def reconcile_day(session: Session, as_of: datetime) -> dict[str, str]:
    """Store one reconciliation per chokepoint for ``as_of``'s day; return the statuses."""
    signals = _latest_signals(session, as_of)
    transits = _latest_transits(session, as_of)
    rows = []
    for chokepoint in sorted(set(signals) | set(transits)):
        own = signals.get(chokepoint, [])
        probability = max((s["probability"] for s in own), default=0.0)
        transit = transits.get(chokepoint)
        change = transit["change_pct"] if transit else None
        rows.append({
            "chokepoint": chokepoint,
            "day": as_of.date(),
            "status": classify(probability, change),
            "signal_probability": probability if own else None,
            "reality_change_pct": change,
            "inputs": {
                "as_of": as_of.isoformat(),
                "signals": own,
                "transits": transit,
                "thresholds": {"signal_high": SIGNAL_HIGH,
                               "transit_drop_confirmed_pct": TRANSIT_DROP_CONFIRMED,
                               "transit_drop_materializing_pct": TRANSIT_DROP_MATERIALIZING},
            },
            "created_at": utcnow(),
        })
    if rows:
        _upsert(session, rows)
    return {row["chokepoint"]: row["status"] for row in rows}


def _upsert(session: Session, rows: list[dict]) -> None:
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(Reconciliation.__table__).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["chokepoint", "day"],
        set_={name: statement.excluded[name]
              for name in ("status", "signal_probability", "reality_change_pct", "inputs")},
    )
    session.execute(statement)
