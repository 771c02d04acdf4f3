"""Replay the bundled history day by day through the decision engine.

Each replay day runs the same steps as a pipeline tick, against a database
of its own (a temporary SQLite file unless one is given). It stores the
signals and observations known by that day, refreshes shipment statuses,
expires decisions, records outcomes, assesses every chokepoint and upserts
decisions.
Only data stamped on or before the day is stored, so nothing is known
early: Polymarket markets enter when they close, GDELT weeks and SCFI
quotes on their dates, PortWatch days on theirs. Alerts are not rendered;
the shared cache is not touched.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from engine import book, breakers
from engine.db import session_scope
from engine.decisions import lifecycle, outcomes, reads, service
from engine.decisions.config import DecisionConfig
from engine.ingest import ingest_replay
from engine.models import Decision
from engine.reality import portwatch

log = logging.getLogger(__name__)

FOCUS = "bab_el_mandeb"
DROP_SHARE = 0.5
QUIET_END = date(2023, 10, 1)
SEVERE = ("HIGH", "CRITICAL")


@dataclass
class BacktestResult:
    start: date
    end: date
    daily: pd.DataFrame
    chokepoints: pd.DataFrame
    decisions: pd.DataFrame
    transits: pd.Series
    baseline_2023: float
    drop_day: date | None
    first_reroute_day: date | None
    quiet_severe_reroutes: int
    scores: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def lead_time_days(self) -> int | None:
        if self.drop_day is None or self.first_reroute_day is None:
            return None
        return (self.drop_day - self.first_reroute_day).days


def transit_series() -> pd.Series:
    """Daily Bab el-Mandeb transits from the bundled PortWatch file."""
    series, _rejected = portwatch.read_daily()
    daily = series[FOCUS]
    return pd.Series(daily, dtype=float).sort_index()


def drop_day(transits: pd.Series, start: date) -> tuple[float, date | None]:
    """2023 mean, and the first day from ``start`` the 7-day mean is below half of it."""
    baseline = statistics.mean(v for d, v in transits.items() if d.year == 2023)
    rolling = transits.rolling(7).mean()
    below = rolling[(rolling < DROP_SHARE * baseline) & (rolling.index >= start)]
    return baseline, (below.index[0] if len(below) else None)


def run_days(engine: Engine, start: date, end: date, config: DecisionConfig,
             customers: int, seed: int) -> tuple[list[dict], list[dict], dict[int, date]]:
    """Replay every day from ``start`` to ``end``.

    Returns the daily rows, the chokepoint rows, and the replay day on which
    each decision version first appeared. A version updated in place later
    carries the later ``as_of``, so that day is tracked here.
    """
    circuits = {name: "closed" for name in breakers.SPECS}
    with session_scope(engine) as session:
        book.load_demo_book(session, seed=seed, customers=customers)

    daily, per_chokepoint = [], []
    first_seen: dict[int, date] = {}
    day = start
    with reads.caching_disabled():
        while day <= end:
            as_of = datetime.combine(day, time(), timezone.utc)
            with session_scope(engine) as session:
                ingest_replay(session, as_of)
                book.refresh_statuses(session, as_of)
                expired = lifecycle.cleanup_expired(session, as_of)
                scored = outcomes.record_outcomes(session, as_of)
                result = service.decide(session, as_of, config, circuits=circuits)
                daily.append(_daily_row(session, day, result, expired.removed, scored))
                per_chokepoint.extend(_chokepoint_rows(day, result.events))
                for change in result.created:
                    first_seen.setdefault(change.decision_id, day)
            day += timedelta(days=1)
    return daily, per_chokepoint, first_seen


def _daily_row(session, day: date, result: service.DecideResult, expired: int,
               scored: int) -> dict:
    event = result.events.get(FOCUS)
    transit = next((o for o in (event.observation_inputs if event else [])
                    if o["metric"] == "transits_7d"), None)
    gdelt = max((s["probability"] for s in (event.signal_inputs if event else [])
                 if s["source"] == "gdelt"), default=None)
    row = {
        "date": day,
        "gdelt_probability": gdelt,
        "signal_probability": event.signal_probability if event else None,
        "transits_7d": transit["value"] if transit else None,
        "transit_change_pct": event.transit_change_pct if event else None,
        "rate_change_pct": event.rate_change_pct if event else None,
        "rate_premium_usd_teu": event.rate_premium_usd_teu if event else None,
        "reconciliation": event.status if event else None,
        "event_probability": event.probability if event else None,
        "created": len(result.created),
        "updated": len(result.updated_ids),
        "expired": expired,
        "outcomes": scored,
    }
    active = session.execute(
        select(Decision.severity, Decision.recommended_action, func.count(),
               func.sum(Decision.exposure_usd), func.sum(Decision.expected_loss_usd))
        .where(Decision.is_expired.is_(False))
        .group_by(Decision.severity, Decision.recommended_action)
    ).all()
    for name in ("LOW", "MEDIUM", "HIGH", "CRITICAL", "REROUTE", "DELAY", "INSURE",
                 "MONITOR", "DO_NOTHING"):
        row[name.lower()] = 0
    row["active_exposure_usd"] = 0.0
    row["active_expected_loss_usd"] = 0.0
    row["severe_reroutes"] = 0
    for severity, action, count, exposure, loss in active:
        row[severity.lower()] += count
        row[action.lower()] += count
        row["active_exposure_usd"] += float(exposure or 0.0)
        row["active_expected_loss_usd"] += float(loss or 0.0)
        if severity in SEVERE and action == "REROUTE":
            row["severe_reroutes"] += count
    return row


def _chokepoint_rows(day: date, events: dict) -> list[dict]:
    return [
        {"date": day, "chokepoint": e.chokepoint, "probability": e.probability,
         "reconciliation": e.status, "signal_probability": e.signal_probability,
         "transit_change_pct": e.transit_change_pct, "rate_change_pct": e.rate_change_pct,
         "signal_evidence": e.evidence.get("signals"),
         "transit_evidence": e.evidence.get("transits"),
         "rate_evidence": e.evidence.get("rates")}
        for e in events.values()
    ]


def decision_frame(engine: Engine, first_seen: dict[int, date]) -> pd.DataFrame:
    """Every stored decision version, with the day it appeared and whether it
    concerns shipments through Bab el-Mandeb."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(Decision.id, Decision.customer_id, Decision.event_key, Decision.chokepoint,
                   Decision.version, Decision.status, Decision.as_of, Decision.severity,
                   Decision.recommended_action, Decision.exposure_usd,
                   Decision.expected_loss_usd, Decision.action_cost_usd,
                   Decision.net_benefit_usd, Decision.probability, Decision.confidence,
                   Decision.shipment_count, Decision.deadline, Decision.answers,
                   Decision.provenance, Decision.outcome)
            .order_by(Decision.as_of, Decision.id)
        ).all()
    frame = pd.DataFrame(rows, columns=[
        "id", "customer_id", "event_key", "chokepoint", "version", "status", "as_of",
        "severity", "recommended_action", "exposure_usd", "expected_loss_usd",
        "action_cost_usd", "net_benefit_usd", "probability", "confidence",
        "shipment_count", "deadline", "answers", "provenance", "outcome",
    ])
    frame["as_of"] = pd.to_datetime(frame["as_of"], utc=True)
    frame["created_on"] = pd.to_datetime(frame["id"].map(first_seen).fillna(
        frame["as_of"].dt.date))
    frame["through_focus"] = [
        any(FOCUS in w["route"] for w in a["when"])
        for a in frame["answers"]
    ]
    return frame


def first_severe_reroute(decisions: pd.DataFrame) -> date | None:
    severe = decisions[
        decisions["severity"].isin(SEVERE)
        & (decisions["recommended_action"] == "REROUTE")
        & decisions["through_focus"]
    ]
    return None if severe.empty else severe["created_on"].min().date()


def quiet_severe_reroutes(decisions: pd.DataFrame) -> int:
    quiet = decisions["created_on"] < pd.Timestamp(QUIET_END)
    severe = decisions["severity"].isin(SEVERE) & (decisions["recommended_action"] == "REROUTE")
    return int((quiet & severe).sum())
