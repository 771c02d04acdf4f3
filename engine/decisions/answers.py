"""The seven answers and the provenance of one decision, as stored JSON.

1. what is happening (``what``), 2. when it hits (``when``), 3. how bad
(``how_bad``), 4. why we believe it (``why``), 5. what to do
(``what_to_do``), 6. by when (``by_when``), 7. how confident, and what
waiting costs (``confidence``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from engine.decisions import costs
from engine.decisions.confidence import confidence
from engine.decisions.draft import WAIT_HOURS, DecisionDraft
from engine.decisions.events import ChokepointEvent
from engine.decisions.routes import plan_route
from engine.geography import chokepoints

ANSWER_KEYS = ("what", "when", "how_bad", "why", "what_to_do", "by_when", "confidence")
MIN_VALIDITY = timedelta(hours=24)
# The "when" entry lists at most this many shipments, earliest first.
MAX_LISTED_SHIPMENTS = 100
TIME_FORMAT = "%Y-%m-%dT%H:%M+00:00"
LEG_FIELDS = [
    "decision", "id", "lane", "origin_port", "destination_port", "status", "etd_text",
    "eta_text", "reaches_text", "reaches_at", "value", "feu", "expected_loss",
    "best_action", "also_avoids", "alternative_name", "alternative_extra_days",
    "avoidable", "reroute_text", "route_chokepoints",
]


class LegSlice:
    """The legs of one decision: a range of rows in columns converted once per batch."""

    def __init__(self, columns: dict[str, list], start: int, end: int) -> None:
        self.columns = columns
        self.start = start
        self.end = end
        self._choice: tuple | None = None

    def choice(self, total: dict) -> tuple[str, float, float, datetime, str]:
        """Return the recommended action of this decision (see ``_chosen``), computed once."""
        if self._choice is None:
            self._choice = _chosen(total, self.columns["reaches_at"][self.start])
        return self._choice

    def __len__(self) -> int:
        return self.end - self.start

    def column(self, name: str) -> list:
        return self.columns[name][self.start:self.end]

    def head(self, name: str, limit: int) -> list:
        return self.columns[name][self.start:min(self.end, self.start + limit)]


def leg_columns(legs: pd.DataFrame) -> dict[str, list]:
    """Convert the legs to Python lists per field, with formatted times, once per batch."""
    legs = legs.assign(
        etd_text=_format(legs["etd"]),
        eta_text=_format(legs["eta"]),
        reaches_text=_format(legs["reaches_at"]),
        reroute_text=_format(legs["reroute_deadline"]),
        route_chokepoints=_routes(legs),
    )
    columns = {name: legs[name].tolist() for name in LEG_FIELDS if name != "reaches_at"}
    columns["reaches_at"] = list(legs["reaches_at"].dt.to_pydatetime())
    columns["when"] = _when_entries(columns)
    return columns


def _when_entries(columns: dict[str, list]) -> list[dict]:
    """Build the ``when`` entry of every leg in one pass over the columns."""
    fields = ("id", "lane", "origin_port", "destination_port", "status", "etd_text",
              "eta_text", "reaches_text", "value", "feu", "expected_loss", "best_action",
              "route_chokepoints", "also_avoids", "alternative_name",
              "alternative_extra_days", "avoidable", "reroute_text")
    return [
        {
            "shipment_id": shipment_id,
            "lane": lane,
            "origin": origin,
            "destination": destination,
            "status": status,
            "etd": etd,
            "eta": eta,
            "reaches_at": reaches,
            "value_usd": round(float(value), 2),
            "containers": int(feu),
            "expected_loss_usd": round(float(loss), 2),
            "best_action": best,
            "route": route,
            "also_avoids": _names(also),
            "alternative": alternative or None,
            "alternative_extra_days": float(extra) if avoidable else None,
            "reroute_deadline": reroute if avoidable else None,
        }
        for (shipment_id, lane, origin, destination, status, etd, eta, reaches, value, feu,
             loss, best, route, also, alternative, extra, avoidable, reroute)
        in zip(*(columns[name] for name in fields))
    ]


@functools.lru_cache(maxsize=256)
def _split_names(text: str) -> tuple[str, ...]:
    return tuple(text.split(","))


def _names(text: str) -> list[str]:
    """Return the comma-separated chokepoint ids of ``also_avoids`` as a new list."""
    return list(_split_names(text)) if text else []


def _format(times: pd.Series) -> np.ndarray:
    """Format UTC times to the minute as TIME_FORMAT does; numpy does it in one C call."""
    minutes = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[m]")
    text = np.char.add(np.datetime_as_string(minutes, unit="m"), "+00:00").astype(object)
    text[np.isnat(minutes)] = None
    return text


def _routes(legs: pd.DataFrame) -> list[list[str]]:
    """Per leg, the chokepoints of the shipment's route in order (one plan per plan_key)."""
    plans = {}
    for key, position in legs.groupby("plan_key", sort=False).indices.items():
        first = legs.iloc[position[0]]
        plans[key] = list(plan_route(first["lane"], first["origin_port"],
                                     first["destination_port"], tuple(first["route"])).chokepoints)
    return [plans[key] for key in legs["plan_key"].to_numpy()]


def event_confidence(event: ChokepointEvent, circuits: dict[str, str]) -> tuple[float, list]:
    return confidence(event, circuits)


def _chosen(total: dict, arrival: datetime) -> tuple[str, float, float, datetime, str]:
    """Return the recommended action with its cost, net benefit, deadline and deadline kind.

    Without an action to take, the deadline is the last moment any option
    is still open ("review"), or when none is, the first shipment's arrival
    at the chokepoint ("arrival").
    """
    action = str(total["action"])
    key = action.lower()
    if action in ("REROUTE", "DELAY", "INSURE"):
        return (action, float(total[f"{key}_chosen_cost"]), float(total[f"{key}_gain"]),
                _timestamp(total[f"{key}_chosen_deadline"]), "act")
    review = _earliest([total[f"{a}_feasible_deadline"] for a in ("reroute", "delay",
                                                                   "insure")])
    if review is not None:
        return action, 0.0, 0.0, review, "review"
    return action, 0.0, 0.0, arrival, "arrival"


def fingerprint(group: LegSlice, total: dict, event: ChokepointEvent,
                trust: tuple[float, list[str]]) -> str:
    """Hash what a reader would see change, leaving out input ages and as_of."""
    action, cost, _net, deadline, _kind = group.choice(total)
    content = [
        action,
        str(total["severity"]),
        round(float(total["exposure"]), -2),
        round(float(total["expected_loss"]), -2),
        round(cost, -2),
        deadline.isoformat() if deadline else None,
        round(event.probability, 3),
        event.status,
        trust[0],
        sorted(zip(group.column("id"), group.column("best_action"))),
        [round(float(total[f"wait_{h}h"]), -2) for h in WAIT_HOURS],
    ]
    return hashlib.sha256(json.dumps(content, default=str).encode()).hexdigest()


def event_parts(event: ChokepointEvent, circuits: dict[str, str], as_of: datetime
                ) -> tuple[dict, dict, dict]:
    """Return what every decision on one event shares: its what, its why and its provenance.

    The drafts of that event refer to the same three dicts; nothing modifies them.
    """
    return _what(event), _why(event), _provenance(event, circuits, as_of)


def build_draft(group: LegSlice, total: dict, event: ChokepointEvent, as_of: datetime,
                circuits: dict[str, str], trust: tuple[float, list[str]],
                fingerprint: str, parts: tuple[dict, dict, dict] | None = None
                ) -> DecisionDraft:
    """Assemble the DecisionDraft of one customer and event from its legs and totals."""
    what, why, provenance = parts or event_parts(event, circuits, as_of)
    action, cost, net, deadline, deadline_kind = group.choice(total)
    key = action.lower()
    exposure = float(total["exposure"])
    expected_loss = float(total["expected_loss"])
    value, reasons = trust
    waiting = {f"{h}h": round(float(total[f"wait_{h}h"]), 2) for h in WAIT_HOURS}
    last_pass = max(group.column("reaches_at"))
    expires_at = max(last_pass, as_of + MIN_VALIDITY)
    tolerance = str(total["tolerance"])

    answers = {
        "what": what,
        "when": _when(group),
        "how_bad": {
            "exposure_usd": round(exposure, 2),
            "expected_loss_usd": round(expected_loss, 2),
            "loss_if_disrupted_usd": round(float(total["loss_if_disrupted"]), 2),
            "probability": event.probability,
            "severity": str(total["severity"]),
        },
        "why": why,
        "what_to_do": {
            "recommended": action,
            "cost_usd": round(cost, 2),
            "net_benefit_usd": round(net, 2),
            "shipments": int(total.get(f"{key}_chosen_n", total["shipments"])),
            "risk_tolerance": tolerance,
            "risk_tolerance_weight": costs.TOLERANCE_WEIGHT.get(tolerance, 1.0),
            "alternatives": _alternatives(total, expected_loss),
        },
        "by_when": deadline.isoformat(),
        "by_when_detail": {
            "deadline": deadline.isoformat(),
            "kind": deadline_kind,
            "meaning": _deadline_meaning(action, deadline_kind),
        },
        "confidence": {"value": value, "reasons": list(reasons),
                       "cost_of_waiting_usd": waiting},
    }
    if len(group) > MAX_LISTED_SHIPMENTS:
        answers["shipments_not_listed"] = len(group) - MAX_LISTED_SHIPMENTS
    return DecisionDraft(
        customer_id=str(total["customer_id"]), event_key=event.event_key,
        chokepoint=event.chokepoint, severity=str(total["severity"]),
        recommended_action=action, exposure_usd=round(exposure, 2),
        expected_loss_usd=round(expected_loss, 2), action_cost_usd=round(cost, 2),
        net_benefit_usd=round(net, 2), probability=event.probability, confidence=value,
        shipment_count=int(total["shipments"]), deadline=deadline, expires_at=expires_at,
        as_of=as_of, answers=answers, provenance=provenance,
        fingerprint=fingerprint,
    )


def _what(event: ChokepointEvent) -> dict:
    known = chokepoints().get(event.chokepoint)
    return {
        "event_key": event.event_key,
        "chokepoint": event.chokepoint,
        "chokepoint_name": known.name if known else event.chokepoint,
        "category": event.category,
        "probability": event.probability,
        "reconciliation": event.status,
        "sources": event.signal_inputs + event.observation_inputs,
    }


def _why(event: ChokepointEvent) -> dict:
    return {
        "signal_probability": event.signal_probability,
        "transit_change_pct": event.transit_change_pct,
        "rate_change_pct": event.rate_change_pct,
        "rate_premium_usd_teu": event.rate_premium_usd_teu,
        "reconciliation": event.status,
        "evidence": event.evidence,
        "input_ages_hours": {
            f"{i['source']}:{i['id']}": i["age_hours"]
            for i in event.signal_inputs + event.observation_inputs
        },
    }


def _when(group: LegSlice) -> list[dict]:
    return group.head("when", MAX_LISTED_SHIPMENTS)


def _alternatives(total: dict, expected_loss: float) -> list[dict]:
    options = []
    for action in ("REROUTE", "DELAY", "INSURE"):
        key = action.lower()
        count = int(total[f"{key}_feasible_n"])
        deadline = _timestamp(total[f"{key}_feasible_deadline"])
        option = {
            "action": action,
            "feasible": count > 0,
            "shipments": count,
            "cost_usd": round(float(total[f"{key}_feasible_cost"]), 2),
            "net_benefit_usd": round(float(total[f"{key}_feasible_net"]), 2),
            "deadline": deadline.isoformat() if deadline else None,
        }
        option.update(_option_detail(action, total))
        options.append(option)
    shipments = int(total["shipments"])
    options.append({"action": "MONITOR", "feasible": True, "shipments": shipments,
                    "cost_usd": 0.0, "net_benefit_usd": 0.0, "deadline": None,
                    "detail": "no cost now; review before the earliest deadline"})
    options.append({"action": "DO_NOTHING", "feasible": True, "shipments": shipments,
                    "cost_usd": 0.0, "net_benefit_usd": 0.0, "deadline": None,
                    "expected_loss_usd": round(expected_loss, 2)})
    return options


def _option_detail(action: str, total: dict) -> dict:
    if action == "REROUTE":
        avoidable = int(total["avoidable_n"])
        names = total["alternative_names"] if isinstance(total["alternative_names"], list) else []
        return {
            "route": names[0] if len(names) == 1 else names,
            "added_days": round(float(total["avoidable_extra_days"]) / avoidable, 1)
            if avoidable else None,
            "blocked_by_other_events": int(total["blocked_n"]),
        }
    if action == "DELAY":
        return {"delay_days": costs.DEFAULT.delay_days,
                "detail": "roll to the next weekly sailing; only before departure"}
    return {"cover_share": costs.DEFAULT.insurance_cover_share,
            "loading": costs.DEFAULT.insurance_loading,
            "covers": "delay cost and risk surcharge, not freight rate premiums"}


def _deadline_meaning(action: str, kind: str) -> str:
    if kind == "review":
        return "after this the first shipment loses its cheapest way round"
    if kind == "arrival":
        return "no option is left; the first shipment reaches the chokepoint then"
    return {
        "REROUTE": "last moment the first shipment can still turn at its diversion point",
        "DELAY": "departure of the first shipment that should wait",
        "INSURE": "last moment to bind cover before the first shipment enters the area",
    }[action]


def _provenance(event: ChokepointEvent, circuits: dict[str, str], as_of: datetime) -> dict:
    return {
        "signals": [
            {"id": s["id"], "source": s["source"], "probability": s["probability"],
             "observed_at": s["observed_at"], "age_hours": s["age_hours"]}
            for s in event.signal_inputs
        ],
        "observations": [
            {"id": o["id"], "source": o["source"], "metric": o["metric"],
             "change_pct": o["change_pct"], "observed_at": o["observed_at"],
             "age_hours": o["age_hours"]}
            for o in event.observation_inputs
        ],
        "reconciliation": event.reconciliation or {"status": event.status, "derived": True},
        "circuits": dict(circuits),
        "as_of": as_of.isoformat(),
    }


def _timestamp(value) -> datetime | None:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, datetime):
        return value if not isinstance(value, pd.Timestamp) else value.to_pydatetime()
    if pd.isna(value):
        return None
    return pd.Timestamp(value).to_pydatetime()


def _earliest(values) -> datetime | None:
    present = [_timestamp(v) for v in values if _timestamp(v) is not None]
    return min(present) if present else None


