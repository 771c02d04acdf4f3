"""Assess each chokepoint: how likely a disruption is, and what reality shows.

The disruption probability combines three kinds of evidence as independent
chances, ``p = 1 - (1 - p_signals)(1 - p_transits)(1 - p_rates)``:

- signals (OMEN): each source's latest probability times its weight. A
  prediction market prices the event itself (weight 1.0). News volume shows
  attention to a region, which often rises for reasons that never touch
  shipping (weight 0.6, so the five-fold rise of Yemen news in spring 2023,
  with transits normal, stays a watch). When reality corroborates the news
  (transits down 10% or more, or the freight rate up 10% or more), the
  attention is about shipping and news counts in full. The weights are a
  model choice, and ``engine.decisions.outcomes.source_scores`` measures
  each source's Brier score so that they can be revised from data.
- transits (ORACLE): a fall of the 7-day mean below its baseline, where a
  fall of 50% or more counts as certain.
- freight rates (ORACLE): a rise of the spot rate over its baseline, where a
  doubling counts as 0.6. Rates also rise with demand, so this evidence is
  capped below certainty.

The reconciliation status (CONFIRMED, MATERIALIZING, PREDICTED_NOT_OBSERVED,
SURPRISE, NORMAL) comes from ORACLE's stored reconciliation for the day when
there is one, otherwise it is derived here from the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import as_utc
from engine.models import RealityObservation, Reconciliation, Signal
from engine.reality.reconcile import classify

SIGNAL_WINDOW = timedelta(days=14)
TRANSIT_WINDOW = timedelta(days=3)
RATE_WINDOW = timedelta(days=14)
SOURCE_WEIGHTS = {"polymarket": 1.0, "gdelt": 0.6}
DEFAULT_SOURCE_WEIGHT = 0.5
CORROBORATING_TRANSIT_DROP = -10.0
CORROBORATING_RATE_RISE = 10.0
TRANSIT_DROP_FOR_CERTAINTY = 50.0
RATE_RISE_WEIGHT = 0.6
MAX_PROBABILITY = 0.99
# Categories whose events put a war-risk surcharge on cargo.
SECURITY_CATEGORIES = ("security",)


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
    category: str = "disruption"
    evidence: dict = field(default_factory=dict)
    signal_inputs: list[dict] = field(default_factory=list)
    observation_inputs: list[dict] = field(default_factory=list)
    reconciliation: dict | None = None

    @property
    def event_key(self) -> str:
        return f"{self.chokepoint}:disruption"

    @property
    def war_risk(self) -> bool:
        return self.category in SECURITY_CATEGORIES


def reconcile(signal_probability: float, transit_change: float | None) -> str:
    """Label how the signals and the measured transits agree, as ORACLE does."""
    return classify(signal_probability, transit_change)


def corroborated(transit_change: float | None, rate_change: float | None) -> bool:
    """Return whether measured transits or freight rates move as a disruption would."""
    falling = transit_change is not None and transit_change <= CORROBORATING_TRANSIT_DROP
    rising = rate_change is not None and rate_change >= CORROBORATING_RATE_RISE
    return falling or rising


def signal_evidence(signals: dict[str, float], corroborated: bool = False) -> float:
    """Weighted chance that at least one source's event happens."""
    remaining = 1.0
    for source, probability in signals.items():
        weight = 1.0 if corroborated else SOURCE_WEIGHTS.get(source, DEFAULT_SOURCE_WEIGHT)
        remaining *= 1.0 - weight * min(max(probability, 0.0), 1.0)
    return 1.0 - remaining


def transit_evidence(transit_change: float | None) -> float:
    if transit_change is None or transit_change >= 0:
        return 0.0
    return min(-transit_change / TRANSIT_DROP_FOR_CERTAINTY, 1.0)


def rate_evidence(rate_change: float | None) -> float:
    if rate_change is None or rate_change <= 0:
        return 0.0
    return RATE_RISE_WEIGHT * min(rate_change / 100.0, 1.0)


def combine(signals: float, transits: float, rates: float) -> float:
    probability = 1.0 - (1.0 - signals) * (1.0 - transits) * (1.0 - rates)
    return round(min(probability, MAX_PROBABILITY), 4)


def assess(session: Session, as_of: datetime) -> dict[str, ChokepointEvent]:
    """Return one event per chokepoint that has any signal or observation."""
    signals = session.execute(
        select(Signal.id, Signal.source, Signal.chokepoint, Signal.category,
               Signal.probability, Signal.observed_at, Signal.title, Signal.url)
        .where(Signal.observed_at > as_of - SIGNAL_WINDOW, Signal.observed_at <= as_of)
        .order_by(Signal.observed_at, Signal.id)
    ).all()
    observations = session.execute(
        select(RealityObservation.id, RealityObservation.source,
               RealityObservation.chokepoint, RealityObservation.metric,
               RealityObservation.value, RealityObservation.baseline,
               RealityObservation.change_pct, RealityObservation.observed_at)
        .where(RealityObservation.observed_at > as_of - RATE_WINDOW,
               RealityObservation.observed_at <= as_of)
        .order_by(RealityObservation.observed_at, RealityObservation.id)
    ).all()
    reconciliations = _reconciliations(session, as_of)

    # The latest signal per (source, chokepoint) speaks for that source.
    latest_signal: dict[tuple[str, str], object] = {}
    for row in signals:
        latest_signal[(row.source, row.chokepoint)] = row
    latest_obs: dict[tuple[str, str], object] = {}
    for row in observations:
        stale_transit = row.metric == "transits_7d" and as_utc(row.observed_at) <= (
            as_of - TRANSIT_WINDOW
        )
        if not stale_transit:
            latest_obs[(row.chokepoint, row.metric)] = row

    chokepoints = {c for _, c in latest_signal} | {c for c, _ in latest_obs}
    return {
        chokepoint: _event(chokepoint, as_of, latest_signal, latest_obs,
                           reconciliations.get(chokepoint))
        for chokepoint in sorted(chokepoints)
    }


def _event(chokepoint: str, as_of: datetime, latest_signal: dict, latest_obs: dict,
           reconciliation) -> ChokepointEvent:
    own_signals = [r for (_s, c), r in latest_signal.items() if c == chokepoint]
    by_source: dict[str, float] = {}
    for row in own_signals:
        by_source[row.source] = max(by_source.get(row.source, 0.0), row.probability)
    transit = latest_obs.get((chokepoint, "transits_7d"))
    rates = [r for (c, m), r in latest_obs.items() if c == chokepoint and m.startswith("rate_")]

    transit_change = transit.change_pct if transit else None
    rate_change = max((r.change_pct for r in rates if r.change_pct is not None), default=None)
    premium = max((max(r.value - (r.baseline or r.value), 0.0) for r in rates), default=0.0)
    backed = corroborated(transit_change, rate_change)
    evidence = {
        "signals": round(signal_evidence(by_source, backed), 4),
        "transits": round(transit_evidence(transit_change), 4),
        "rates": round(rate_evidence(rate_change), 4),
        "corroborated": backed,
    }
    signal_p = max(by_source.values(), default=0.0)
    status = reconcile(signal_p, transit_change)
    stored = None
    if reconciliation is not None:
        status = reconciliation.status
        stored = {"id": reconciliation.id, "day": reconciliation.day.isoformat(),
                  "status": reconciliation.status}
    strongest = max(own_signals, key=lambda r: r.probability, default=None)
    category = strongest.category if strongest is not None and strongest.probability > 0 else (
        "disruption"
    )
    return ChokepointEvent(
        chokepoint=chokepoint,
        as_of=as_of,
        signal_probability=signal_p,
        transit_change_pct=transit_change,
        rate_change_pct=rate_change,
        rate_premium_usd_teu=round(premium, 2),
        probability=combine(evidence["signals"], evidence["transits"], evidence["rates"]),
        status=status,
        category=category,
        evidence=evidence,
        signal_inputs=[_signal_input(r, as_of) for r in own_signals],
        observation_inputs=[
            _observation_input(r, as_of) for r in ([transit] if transit else []) + rates
        ],
        reconciliation=stored,
    )


def _reconciliations(session: Session, as_of: datetime) -> dict[str, Reconciliation]:
    """ORACLE's reconciliation per chokepoint for the day of ``as_of``, when stored."""
    rows = session.scalars(
        select(Reconciliation).where(Reconciliation.day == as_of.date())
    ).all()
    return {row.chokepoint: row for row in rows}


def _age_hours(observed_at: datetime, as_of: datetime) -> float:
    return round((as_of - as_utc(observed_at)).total_seconds() / 3600.0, 1)


def _signal_input(row, as_of: datetime) -> dict:
    return {
        "id": row.id,
        "source": row.source,
        "category": row.category,
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
