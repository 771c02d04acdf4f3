"""What happened after a decision expired, and how well each source forecast it.

An expired decision's outcome window runs from its ``as_of`` to three days
after ``expires_at``, when its last shipment passed the chokepoint. The
extra days let the 7-day transit mean show a late fall. Once transit
observations cover the whole window, the chokepoint counts as disrupted if
the 7-day mean fell at least 25% below its baseline at any point in it, the
same bar as a CONFIRMED reconciliation. Chokepoints without transit data get
an "unobservable" outcome two weeks after the window closes.

Each forecast that fed the decision is then scored once per event: every
signal by its id, and the engine's own probability per event and day under
the source name ``riskcast``. ``source_scores`` aggregates them in SQL.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from engine.clock import as_utc
from engine.decisions import bulk
from engine.models import Decision, RealityObservation, SourceForecast
from engine.models.base import utcnow
from engine.storage import insert_ignore

log = logging.getLogger(__name__)

DISRUPTION_THRESHOLD_PCT = -25.0
WINDOW_GRACE = timedelta(days=3)
UNOBSERVABLE_AFTER = timedelta(days=14)
TRANSIT_METRIC = "transits_7d"
ENGINE_SOURCE = "riskcast"
ACTING = ("REROUTE", "DELAY", "INSURE")


def record_outcomes(session: Session, now: datetime) -> int:
    """Record the outcome of every expired decision whose window has closed by ``now``.

    Returns how many decisions got an outcome. Running it again with the same
    data records nothing more.
    """
    pending = session.execute(
        select(Decision.id, Decision.event_key, Decision.chokepoint, Decision.probability,
               Decision.recommended_action, Decision.as_of, Decision.expires_at,
               Decision.provenance)
        .where(Decision.is_expired.is_(True), Decision.outcome.is_(None),
               Decision.expires_at <= now - WINDOW_GRACE)
    ).all()
    if not pending:
        return 0
    frame = pd.DataFrame(pending, columns=["id", "event_key", "chokepoint", "probability",
                                           "action", "as_of", "expires_at", "provenance"])
    frame["start"] = pd.to_datetime(frame["as_of"], utc=True)
    frame["end"] = pd.to_datetime(frame["expires_at"], utc=True) + WINDOW_GRACE
    transits = _transits(session, sorted(frame["chokepoint"].unique()), frame["start"].min(),
                         pd.Timestamp(now))

    outcomes: list[dict] = []
    forecasts: list[dict] = []
    evaluated_at = utcnow()
    for row in frame.itertuples(index=False):
        outcome = _outcome(row, transits.get(row.chokepoint), pd.Timestamp(now))
        if outcome is None:
            continue
        outcome["evaluated_at"] = evaluated_at.isoformat()
        outcomes.append({"id": row.id, "outcome": outcome, "updated_at": evaluated_at})
        if outcome["observed"]:
            forecasts.extend(_forecasts(row, outcome["disrupted"]))

    bulk.update_rows(session, outcomes)
    added = insert_ignore(session, SourceForecast.__table__, forecasts,
                          ["source", "forecast_ref", "event_key"])
    log.info("outcomes at %s: %d decisions evaluated, %d forecasts scored",
             as_utc(now).isoformat(), len(outcomes), added)
    return len(outcomes)


def _transits(session: Session, chokepoints: list[str], start: pd.Timestamp,
              now: pd.Timestamp) -> dict[str, pd.DataFrame]:
    rows = session.execute(
        select(RealityObservation.id, RealityObservation.chokepoint,
               RealityObservation.change_pct, RealityObservation.observed_at)
        .where(RealityObservation.metric == TRANSIT_METRIC,
               bulk.in_list(RealityObservation.chokepoint, chokepoints, session),
               RealityObservation.observed_at >= start.to_pydatetime(),
               RealityObservation.observed_at <= now.to_pydatetime())
        .order_by(RealityObservation.observed_at)
    ).all()
    frame = pd.DataFrame(rows, columns=["id", "chokepoint", "change_pct", "observed_at"])
    frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True)
    return {c: g.reset_index(drop=True) for c, g in frame.groupby("chokepoint")}


def _outcome(row, series: pd.DataFrame | None, now: pd.Timestamp) -> dict | None:
    window = {"window_start": row.start.isoformat(), "window_end": row.end.isoformat()}
    covered = series is not None and not series.empty and series["observed_at"].iat[-1] >= row.end
    if not covered:
        if now < row.end + UNOBSERVABLE_AFTER:
            return None
        return {**window, "observed": False,
                "reason": f"no {TRANSIT_METRIC} observations cover the window"}

    times = series["observed_at"]
    lo = int(times.searchsorted(row.start, side="left"))
    hi = int(times.searchsorted(row.end, side="right"))
    inside = series.iloc[lo:hi].dropna(subset=["change_pct"])
    if inside.empty:
        return {**window, "observed": False, "reason": "no transit change in the window"}
    worst = inside.loc[inside["change_pct"].idxmin()]
    disrupted = bool(worst["change_pct"] <= DISRUPTION_THRESHOLD_PCT)
    acted = row.action in ACTING
    return {
        **window,
        "observed": True,
        "disrupted": disrupted,
        "min_transit_change_pct": float(worst["change_pct"]),
        "min_at": worst["observed_at"].isoformat(),
        "observations": int(len(inside)),
        "observation_ids": [int(inside["id"].iat[0]), int(inside["id"].iat[-1])],
        "forecast_probability": float(row.probability),
        "recommended_action": row.action,
        "action_was_right": acted == disrupted,
    }


def _forecasts(row, disrupted: bool) -> list[dict]:
    common = {"event_key": row.event_key, "chokepoint": row.chokepoint,
              "disrupted": disrupted, "decision_id": int(row.id),
              "window_start": row.start.to_pydatetime(), "window_end": row.end.to_pydatetime(),
              "recorded_at": utcnow()}
    rows = [{"source": ENGINE_SOURCE,
             "forecast_ref": f"{row.event_key}@{row.start.date().isoformat()}",
             "probability": float(row.probability), **common}]
    for signal in (row.provenance or {}).get("signals", []):
        rows.append({"source": signal["source"], "forecast_ref": str(signal["id"]),
                     "probability": float(signal["probability"]), **common})
    return rows


def source_scores(session: Session) -> list[dict]:
    """Return the Brier score and hit rate of every source's scored forecasts.

    The Brier score is the mean of (probability - outcome)^2, 0 is perfect and
    0.25 is what always saying 0.5 earns. The hit rate is the share of
    forecasts on the right side of 0.5. ``base_rate`` is the share of
    forecasts whose event did happen.
    """
    outcome = case((SourceForecast.disrupted.is_(True), 1.0), else_=0.0)
    error = SourceForecast.probability - outcome
    hit = case(((SourceForecast.probability >= 0.5) == SourceForecast.disrupted, 1.0),
               else_=0.0)
    rows = session.execute(
        select(SourceForecast.source, func.count(), func.avg(error * error), func.avg(hit),
               func.avg(outcome))
        .group_by(SourceForecast.source)
        .order_by(SourceForecast.source)
    ).all()
    return [
        {"source": source, "forecasts": int(count), "brier_score": round(float(brier), 4),
         "hit_rate": round(float(hits), 4), "base_rate": round(float(base), 4)}
        for source, count, brier, hits, base in rows
    ]
