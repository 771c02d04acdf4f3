"""Turn chokepoint events and open shipments into one decision per customer and event."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.decisions import costs
from engine.decisions.events import ChokepointEvent
from engine.decisions.severity import severity_for
from engine.geography import LANES, chokepoints
from engine.models import Customer, Shipment

log = logging.getLogger(__name__)

MIN_EVENT_PROBABILITY = 0.2
HORIZON = timedelta(days=30)
MAX_VALIDITY = timedelta(days=7)
MONITOR_MIN_PROBABILITY = 0.3
# Days before reaching the chokepoint by which a vessel must turn for the
# Cape. For the Red Sea the turn happens south of Sri Lanka, about five days
# of steaming before Bab el-Mandeb; elsewhere two days.
DIVERSION_LEAD_DAYS = {"bab_el_mandeb": 5.0, "suez": 6.0}
DEFAULT_DIVERSION_LEAD_DAYS = 2.0
WAIT_HOURS = (6, 24, 48)


@dataclass
class DecisionDraft:
    customer_id: str
    event_key: str
    chokepoint: str
    severity: str
    recommended_action: str
    exposure_usd: float
    expected_loss_usd: float
    action_cost_usd: float
    net_benefit_usd: float
    probability: float
    confidence: float
    shipment_count: int
    deadline: datetime | None
    expires_at: datetime
    as_of: datetime
    answers: dict
    provenance: dict
    fingerprint: str


def load_open_shipments(session: Session, as_of: datetime) -> pd.DataFrame:
    rows = session.execute(
        select(
            Shipment.id, Shipment.customer_id, Shipment.lane, Shipment.cargo_value_usd,
            Shipment.container_count, Shipment.etd, Shipment.eta, Shipment.status,
            Customer.risk_tolerance,
        )
        .join(Customer, Customer.id == Shipment.customer_id)
        .where(
            Shipment.status.in_(("BOOKED", "IN_TRANSIT")),
            Shipment.eta > as_of,
            Shipment.etd < as_of + HORIZON,
        )
    ).all()
    frame = pd.DataFrame(rows, columns=[
        "id", "customer_id", "lane", "value", "feu", "etd", "eta", "status", "tolerance",
    ])
    for column in ("etd", "eta"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def affected(shipments: pd.DataFrame, chokepoint: str, as_of: datetime) -> pd.DataFrame:
    """Shipments whose route reaches ``chokepoint`` within the horizon, with arrival times."""
    parts = []
    for lane in LANES.values():
        if chokepoint not in lane.route:
            continue
        progress = lane.route_progress[lane.route.index(chokepoint)]
        subset = shipments[shipments["lane"] == lane.id]
        if subset.empty:
            continue
        subset = subset.copy()
        subset["reaches_at"] = subset["etd"] + (subset["eta"] - subset["etd"]) * progress
        subset["extra_days"] = float(lane.alternative_extra_days) if lane.alternative else 0.0
        subset["alternative"] = lane.alternative or ""
        parts.append(subset)
    if not parts:
        return shipments.iloc[0:0]
    frame = pd.concat(parts)
    start = pd.Timestamp(as_of)
    window = (frame["reaches_at"] > start) & (frame["reaches_at"] <= start + HORIZON)
    return frame[window]


def draft_decisions(events: dict[str, ChokepointEvent], shipments: pd.DataFrame,
                    as_of: datetime, circuits: dict[str, str]) -> list[DecisionDraft]:
    drafts: list[DecisionDraft] = []
    for event in events.values():
        if event.probability < MIN_EVENT_PROBABILITY:
            continue
        frame = affected(shipments, event.chokepoint, as_of)
        if frame.empty:
            continue
        frame = frame.copy()
        lead = DIVERSION_LEAD_DAYS.get(event.chokepoint, DEFAULT_DIVERSION_LEAD_DAYS)
        frame["reroute_deadline"] = frame["reaches_at"] - pd.Timedelta(days=lead)
        start = pd.Timestamp(as_of)
        result = costs.shipment_costs(
            probability=event.probability,
            value=frame["value"].to_numpy(float),
            feu=frame["feu"].to_numpy(float),
            extra_days=frame["extra_days"].to_numpy(float),
            rate_premium_usd_teu=event.rate_premium_usd_teu,
            reroutable=(frame["reroute_deadline"] > start).to_numpy(),
            departed=(frame["etd"] <= start).to_numpy(),
        )
        for name in ("expected_loss", "reroute_cost", "delay_cost", "insure_cost", "insure_benefit"):
            frame[name] = getattr(result, name)
        frame["reroute_ok"] = result.reroute_feasible
        frame["delay_ok"] = result.delay_feasible
        for customer_id, group in frame.groupby("customer_id", sort=True):
            drafts.append(_draft(customer_id, group, event, as_of, circuits))
    return drafts


def _draft(customer_id: str, group: pd.DataFrame, event: ChokepointEvent,
           as_of: datetime, circuits: dict[str, str]) -> DecisionDraft:
    weight = costs.TOLERANCE_WEIGHT.get(str(group["tolerance"].iloc[0]), 1.0)
    expected_loss = float(group["expected_loss"].sum())
    weighted = group["expected_loss"] * weight

    per_action = {
        "REROUTE": (group["reroute_ok"], weighted - group["reroute_cost"], group["reroute_cost"],
                    group["reroute_deadline"]),
        "DELAY": (group["delay_ok"], weighted * costs.DELAY_RISK_AVOIDED - group["delay_cost"],
                  group["delay_cost"], group["etd"]),
        "INSURE": (pd.Series(True, index=group.index),
                   group["insure_benefit"] * weight - group["insure_cost"],
                   group["insure_cost"], group["reaches_at"]),
    }
    alternatives = []
    for action, (feasible, net, cost, deadlines) in per_action.items():
        ok = feasible.astype(bool)
        alternatives.append({
            "action": action,
            "feasible": bool(ok.any()),
            "shipments": int(ok.sum()),
            "cost_usd": round(float(cost[ok].sum()), 2),
            "net_benefit_usd": round(float(net[ok].sum()), 2),
            "deadline": _iso(deadlines[ok].min()) if ok.any() else None,
        })
    alternatives.append({"action": "MONITOR", "feasible": True, "shipments": len(group),
                         "cost_usd": 0.0, "net_benefit_usd": 0.0, "deadline": None})
    alternatives.append({"action": "DO_NOTHING", "feasible": True, "shipments": len(group),
                         "cost_usd": 0.0, "net_benefit_usd": 0.0, "deadline": None})

    best = max((a for a in alternatives[:3] if a["feasible"]),
               key=lambda a: a["net_benefit_usd"], default=None)
    if best is None or best["net_benefit_usd"] <= 0:
        fallback = "MONITOR" if event.probability >= MONITOR_MIN_PROBABILITY else "DO_NOTHING"
        best = next(a for a in alternatives if a["action"] == fallback)

    action = best["action"]
    deadline = datetime.fromisoformat(best["deadline"]) if best["deadline"] else None
    waiting = _cost_of_waiting(action, per_action, as_of)
    exposure = float(group["value"].sum())
    last_pass = group["reaches_at"].max().to_pydatetime()
    expires_at = min(max(last_pass, as_of + timedelta(hours=24)), as_of + MAX_VALIDITY)
    confidence, reasons = _confidence(event)
    severity = severity_for(expected_loss)
    chokepoint = chokepoints().get(event.chokepoint)

    answers = {
        "what": {
            "event_key": event.event_key,
            "chokepoint": event.chokepoint,
            "chokepoint_name": chokepoint.name if chokepoint else event.chokepoint,
            "reconciliation": event.status,
            "sources": event.signal_inputs + event.observation_inputs,
        },
        "when": [
            {"shipment_id": row.id, "reaches_at": _iso(row.reaches_at),
             "reroute_deadline": _iso(row.reroute_deadline), "etd": _iso(row.etd)}
            for row in group.sort_values("reaches_at").itertuples()
        ],
        "how_bad": {"exposure_usd": round(exposure, 2),
                    "expected_loss_usd": round(expected_loss, 2), "severity": severity,
                    "probability": event.probability},
        "why": {"signal_probability": event.signal_probability,
                "transit_change_pct": event.transit_change_pct,
                "rate_change_pct": event.rate_change_pct,
                "rate_premium_usd_teu": event.rate_premium_usd_teu,
                "reconciliation": event.status},
        "what_to_do": {"recommended": action, "cost_usd": best["cost_usd"],
                       "net_benefit_usd": best["net_benefit_usd"],
                       "alternatives": alternatives, "risk_tolerance_weight": weight},
        "by_when": _iso(deadline) if deadline else None,
        "confidence": {"value": confidence, "reasons": reasons,
                       "cost_of_waiting_usd": waiting},
    }
    provenance = {
        "signals": [{"id": s["id"], "age_hours": s["age_hours"]} for s in event.signal_inputs],
        "observations": [{"id": o["id"], "age_hours": o["age_hours"]}
                         for o in event.observation_inputs],
        "circuits": circuits,
        "as_of": as_of.isoformat(),
    }
    shipment_ids = sorted(group["id"].tolist())
    fingerprint = hashlib.sha256(json.dumps(
        [severity, action, round(exposure, -3), shipment_ids,
         deadline.date().isoformat() if deadline else None],
        default=str,
    ).encode()).hexdigest()
    return DecisionDraft(
        customer_id=customer_id, event_key=event.event_key, chokepoint=event.chokepoint,
        severity=severity, recommended_action=action, exposure_usd=round(exposure, 2),
        expected_loss_usd=round(expected_loss, 2), action_cost_usd=best["cost_usd"],
        net_benefit_usd=best["net_benefit_usd"], probability=event.probability,
        confidence=confidence, shipment_count=len(group), deadline=deadline,
        expires_at=expires_at, as_of=as_of, answers=answers, provenance=provenance,
        fingerprint=fingerprint,
    )


def _cost_of_waiting(action: str, per_action: dict, as_of: datetime) -> dict[str, float]:
    """Benefit lost if the customer waits: shipments whose deadline passes meanwhile."""
    if action not in per_action:
        return {f"{h}h": 0.0 for h in WAIT_HOURS}
    feasible, net, _cost, deadlines = per_action[action]
    result = {}
    for hours in WAIT_HOURS:
        lost = feasible.astype(bool) & (deadlines <= pd.Timestamp(as_of + timedelta(hours=hours)))
        result[f"{hours}h"] = round(float(np.clip(net[lost], 0, None).sum()), 2)
    return result


def _confidence(event: ChokepointEvent) -> tuple[float, list[str]]:
    value = 0.4
    reasons = []
    if event.status == "CONFIRMED":
        value += 0.3
        reasons.append("signals and measured transits agree")
    elif event.status == "MATERIALIZING":
        value += 0.15
        reasons.append("transits have started to fall")
    elif event.status == "PREDICTED_NOT_OBSERVED":
        value -= 0.1
        reasons.append("predicted, but transits are still normal")
    elif event.status == "SURPRISE":
        value += 0.1
        reasons.append("transits fell without a prior signal")
    sources = {s["source"] for s in event.signal_inputs + event.observation_inputs}
    if len(sources) >= 2:
        value += 0.1
        reasons.append(f"{len(sources)} independent sources")
    ages = [s["age_hours"] for s in event.signal_inputs + event.observation_inputs]
    if ages and min(ages) > 7 * 24:
        value -= 0.15
        reasons.append("newest input is more than 7 days old")
    return round(min(max(value, 0.05), 0.95), 2), reasons


def _iso(value) -> str | None:
    if value is None or pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    return value.isoformat()
