"""Assess each chokepoint: how likely a disruption is, and what reality shows.

A chokepoint event combines the freshest signal probability (OMEN) with the
measured change in transits and freight rates (ORACLE). Reconciliation labels
how the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import as_utc
from engine.models import RealityObservation, Signal

SIGNAL_WINDOW = timedelta(days=14)
TRANSIT_WINDOW = timedelta(days=3)
RATE_WINDOW = timedelta(days=14)
# A 50% fall in transits counts as a certain disruption.
TRANSIT_DROP_FOR_CERTAINTY = 50.0
SIGNAL_HIGH = 0.5
TRANSIT_DROP_CONFIRMED = -25.0
TRANSIT_DROP_MATERIALIZING = -10.0


@dataclass
class ChokepointEvent:
    chokepoint: str
    as_of: datetime
    signal_probability: float
    transit_change_pct: float | None
    rate_change_pct: float | None
    rate_premium_usd_teu: float
    probability: float
    status: str
    signal_inputs: list[dict] = field(default_factory=list)
    observation_inputs: list[dict] = field(default_factory=list)

    @property
    def event_key(self) -> str:
        return f"{self.chokepoint}:disruption"


def reconcile(signal_probability: float, transit_change: float | None) -> str:
    dropped = transit_change is not None and transit_change <= TRANSIT_DROP_CONFIRMED
    dipping = transit_change is not None and transit_change <= TRANSIT_DROP_MATERIALIZING
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


def combine(signal_probability: float, transit_change: float | None) -> float:
    reality = 0.0
    if transit_change is not None and transit_change < 0:
        reality = min(-transit_change / TRANSIT_DROP_FOR_CERTAINTY, 1.0)
    probability = 1.0 - (1.0 - signal_probability) * (1.0 - reality)
    return round(min(probability, 0.99), 4)


def assess(session: Session, as_of: datetime) -> dict[str, ChokepointEvent]:
    """Return one event per chokepoint that has any signal or observation."""
    signals = session.execute(
        select(Signal.id, Signal.source, Signal.chokepoint, Signal.probability,
               Signal.observed_at, Signal.title, Signal.url)
        .where(Signal.observed_at > as_of - SIGNAL_WINDOW, Signal.observed_at <= as_of)
        .order_by(Signal.observed_at)
    ).all()
    observations = session.execute(
        select(RealityObservation.id, RealityObservation.source,
               RealityObservation.chokepoint, RealityObservation.metric,
               RealityObservation.value, RealityObservation.baseline,
               RealityObservation.change_pct, RealityObservation.observed_at)
        .where(RealityObservation.observed_at > as_of - RATE_WINDOW,
               RealityObservation.observed_at <= as_of)
        .order_by(RealityObservation.observed_at)
    ).all()

    # The latest signal per (source, chokepoint) speaks for that source.
    latest_signal: dict[tuple[str, str], object] = {}
    for row in signals:
        latest_signal[(row.source, row.chokepoint)] = row
    latest_obs: dict[tuple[str, str], object] = {}
    for row in observations:
        if row.metric == "transits_7d" and as_utc(row.observed_at) <= as_of - TRANSIT_WINDOW:
            continue
        latest_obs[(row.chokepoint, row.metric)] = row

    chokepoints = {c for _, c in latest_signal} | {c for c, _ in latest_obs}
    events = {}
    for chokepoint in sorted(chokepoints):
        own_signals = [r for (s, c), r in latest_signal.items() if c == chokepoint]
        signal_p = max((r.probability for r in own_signals), default=0.0)
        transit = latest_obs.get((chokepoint, "transits_7d"))
        rates = [r for (c, m), r in latest_obs.items() if c == chokepoint and m.startswith("rate_")]
        transit_change = transit.change_pct if transit else None
        rate_change = max((r.change_pct for r in rates if r.change_pct is not None), default=None)
        premium = max((max(r.value - (r.baseline or r.value), 0.0) for r in rates), default=0.0)
        events[chokepoint] = ChokepointEvent(
            chokepoint=chokepoint,
            as_of=as_of,
            signal_probability=signal_p,
            transit_change_pct=transit_change,
            rate_change_pct=rate_change,
            rate_premium_usd_teu=premium,
            probability=combine(signal_p, transit_change),
            status=reconcile(signal_p, transit_change),
            signal_inputs=[_signal_input(r, as_of) for r in own_signals],
            observation_inputs=[
                _observation_input(r, as_of) for r in ([transit] if transit else []) + rates
            ],
        )
    return events


def _age_hours(observed_at: datetime, as_of: datetime) -> float:
    return round((as_of - as_utc(observed_at)).total_seconds() / 3600.0, 1)


def _signal_input(row, as_of: datetime) -> dict:
    return {
        "id": row.id,
        "source": row.source,
        "probability": row.probability,
        "observed_at": as_utc(row.observed_at).isoformat(),
        "age_hours": _age_hours(row.observed_at, as_of),
        "title": row.title,
        "url": row.url,
    }


def _observation_input(row, as_of: datetime) -> dict:
    return {
        "id": row.id,
        "source": row.source,
        "metric": row.metric,
        "value": row.value,
        "baseline": row.baseline,
        "change_pct": row.change_pct,
        "observed_at": as_utc(row.observed_at).isoformat(),
        "age_hours": _age_hours(row.observed_at, as_of),
    }
