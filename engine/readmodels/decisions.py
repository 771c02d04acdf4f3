"""Decision search and the drill-down into one decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pandas as pd
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.geography import chokepoints
from engine.models import Alert, Customer, Decision, RealityObservation, Signal
from engine.models.base import utcnow
from engine.readmodels.common import ACTIVE, CURRENT, frame

# Counting every match of a broad search over a year of decisions costs
# seconds, so the count stops here and the page shows "more than".
COUNT_CAP = 10_000
LIST_COLUMNS = ["id", "customer_id", "customer", "chokepoint", "severity", "status",
                "recommended_action", "exposure_usd", "expected_loss_usd", "confidence",
                "shipment_count", "deadline", "version", "is_expired", "created_at"]


@dataclass
class DecisionFilter:
    statuses: list[str] = field(default_factory=list)
    severities: list[str] = field(default_factory=list)
    chokepoints: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    active_only: bool = True
    search: str = ""
    # Only decisions created in the last N days; None searches all history.
    created_days: int | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _search_clause(text: str):
    """Match a decision id, a customer id or name, a chokepoint or an action."""
    text = text.strip()
    clauses = []
    if text.isdigit():
        clauses.append(Decision.id == int(text))
    pattern = f"%{text.lower()}%"
    customers = select(Customer.id).where(
        or_(func.lower(Customer.id).like(pattern), func.lower(Customer.name).like(pattern))
    )
    clauses.append(Decision.customer_id.in_(customers))
    lowered = text.lower()
    places = [k for k, c in chokepoints().items() if lowered in k or lowered in c.name.lower()]
    if places:
        clauses.append(Decision.chokepoint.in_(places))
    if text.upper() in ("REROUTE", "DELAY", "INSURE", "MONITOR", "DO_NOTHING"):
        clauses.append(Decision.recommended_action == text.upper())
    return or_(*clauses)


def _filtered(query, filters: DecisionFilter):
    if filters.active_only:
        query = query.where(ACTIVE, CURRENT)
    if filters.statuses:
        query = query.where(Decision.status.in_(filters.statuses))
    if filters.severities:
        query = query.where(Decision.severity.in_(filters.severities))
    if filters.chokepoints:
        query = query.where(Decision.chokepoint.in_(filters.chokepoints))
    if filters.actions:
        query = query.where(Decision.recommended_action.in_(filters.actions))
    if filters.search.strip():
        query = query.where(_search_clause(filters.search))
    if filters.created_days:
        query = query.where(Decision.created_at > utcnow() - timedelta(days=filters.created_days))
    return query


def search_decisions(session: Session, filters: DecisionFilter, limit: int = 200,
                     offset: int = 0) -> tuple[pd.DataFrame, int]:
    """Return one page of matching decisions (newest first) and the match count.

    The count stops at ``COUNT_CAP + 1``; a count above COUNT_CAP means "more".
    """
    matches = _filtered(select(Decision.id), filters).limit(COUNT_CAP + 1).subquery()
    total = session.scalar(select(func.count()).select_from(matches))
    rows = session.execute(
        _filtered(
            select(Decision.id, Decision.customer_id, Customer.name, Decision.chokepoint,
                   Decision.severity, Decision.status, Decision.recommended_action,
                   Decision.exposure_usd, Decision.expected_loss_usd, Decision.confidence,
                   Decision.shipment_count, Decision.deadline, Decision.version,
                   Decision.is_expired, Decision.created_at)
            .join(Customer, Customer.id == Decision.customer_id),
            filters,
        )
        # Ids grow with creation time, and the primary key serves this order.
        .order_by(Decision.id.desc())
        .limit(limit).offset(offset)
    ).all()
    return frame(rows, LIST_COLUMNS), int(total or 0)


def decision_detail(session: Session, decision_id: int) -> dict | None:
    """Everything the drill-down shows: the decision, its inputs, alerts and versions."""
    decision = session.get(Decision, decision_id)
    if decision is None:
        return None
    customer = session.get(Customer, decision.customer_id)
    provenance = decision.provenance or {}
    signal_ids = [s.get("id") for s in provenance.get("signals", []) if s.get("id") is not None]
    observation_ids = [o.get("id") for o in provenance.get("observations", [])
                       if o.get("id") is not None]
    ages = {("signal", s.get("id")): s.get("age_hours") for s in provenance.get("signals", [])}
    ages |= {("observation", o.get("id")): o.get("age_hours")
             for o in provenance.get("observations", [])}

    signals = frame(session.execute(
        select(Signal.id, Signal.source, Signal.category, Signal.probability,
               Signal.observed_at, Signal.title, Signal.url)
        .where(Signal.id.in_(signal_ids))
    ).all(), ["id", "source", "category", "probability", "observed_at", "title", "url"])
    signals["age_hours"] = [ages.get(("signal", i)) for i in signals["id"]]
    observations = frame(session.execute(
        select(RealityObservation.id, RealityObservation.source, RealityObservation.metric,
               RealityObservation.value, RealityObservation.baseline,
               RealityObservation.change_pct, RealityObservation.observed_at)
        .where(RealityObservation.id.in_(observation_ids))
    ).all(), ["id", "source", "metric", "value", "baseline", "change_pct", "observed_at"])
    observations["age_hours"] = [ages.get(("observation", i)) for i in observations["id"]]

    alerts = frame(session.execute(
        select(Alert.id, Alert.recipient, Alert.status, Alert.attempts, Alert.last_error_code,
               Alert.created_at, Alert.sent_at)
        .where(Alert.decision_id == decision_id).order_by(Alert.created_at)
    ).all(), ["id", "recipient", "status", "attempts", "last_error_code", "created_at",
              "sent_at"])
    versions = frame(session.execute(
        select(Decision.id, Decision.version, Decision.status, Decision.severity,
               Decision.recommended_action, Decision.exposure_usd, Decision.created_at)
        .where(Decision.customer_id == decision.customer_id,
               Decision.event_key == decision.event_key)
        .order_by(Decision.version.desc()).limit(50)
    ).all(), ["id", "version", "status", "severity", "recommended_action", "exposure_usd",
              "created_at"])
    return {
        "decision": {c.name: getattr(decision, c.name) for c in Decision.__table__.columns},
        "customer": None if customer is None else {
            "id": customer.id, "name": customer.name, "timezone": customer.timezone,
            "risk_tolerance": customer.risk_tolerance,
        },
        "signals": signals,
        "observations": observations,
        "alerts": alerts,
        "versions": versions,
    }
