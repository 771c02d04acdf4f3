"""What-if: the USD effect of an assumed disruption on open shipments.

The scenario closes ``chokepoint`` with certainty for ``days`` from ``as_of``
and adds ``rate_premium_usd_teu`` to freight. Every open shipment that
reaches the chokepoint while it is closed loses what it would lose on
meeting a disruption. A vessel with a way round turns at the chokepoint and
loses the late-diversion days of its route; one without waits for the
reopening. The scenario is a closure, not an attack, so no war-risk
surcharge applies.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.decisions import costs
from engine.decisions.shipments import load_open_shipments
from engine.decisions.routes import route_legs
from engine.geography import chokepoints
from engine.models import Decision

log = logging.getLogger(__name__)

MAX_DAYS = 365
MAX_RATE_PREMIUM_USD_TEU = 20_000


class WhatIfError(ValueError):
    """Raised when a what-if scenario has an invalid parameter."""


def _validate(chokepoint: str, days: float, rate_premium_usd_teu: float) -> None:
    if chokepoint not in chokepoints():
        raise WhatIfError(
            f"unknown chokepoint {chokepoint!r}; choose one of {', '.join(chokepoints())}"
        )
    if not 0 < days <= MAX_DAYS:
        raise WhatIfError(
            f"days={days} is out of range; give a duration from 1 to {MAX_DAYS} days"
        )
    if not 0 <= rate_premium_usd_teu <= MAX_RATE_PREMIUM_USD_TEU:
        raise WhatIfError(
            f"rate premium {rate_premium_usd_teu} USD/TEU is out of range; "
            f"use 0 to {MAX_RATE_PREMIUM_USD_TEU:,}"
        )


def what_if(session: Session, as_of: datetime, chokepoint: str, days: float,
            rate_premium_usd_teu: float, customer_id: str | None = None) -> dict:
    """Apply a certain closure of ``chokepoint`` for ``days`` from ``as_of``.

    Returns the exposure and expected loss it would put on the book (or on
    one customer's shipments), against the expected loss that active
    decisions at that chokepoint already carry, and the change between them.
    """
    _validate(chokepoint, days, rate_premium_usd_teu)
    closes_at = as_of + timedelta(days=days)
    shipments = load_open_shipments(session, as_of, horizon=timedelta(days=days))
    if customer_id is not None:
        shipments = shipments[shipments["customer_id"] == customer_id]
    legs = route_legs(shipments, only={chokepoint})
    if not legs.empty:
        inside = (legs["reaches_at"] > as_of) & (legs["reaches_at"] <= closes_at)
        legs = legs[inside]

    value = legs["value"].to_numpy(float)
    waiting = (closes_at - legs["reaches_at"]).dt.total_seconds().to_numpy(float) / 86400.0
    delay_days = np.where(legs["avoidable"].to_numpy(bool),
                          legs["late_delay_days"].to_numpy(float), np.maximum(waiting, 0.0))
    loss = costs.loss_if_disrupted(value, legs["feu"].to_numpy(float), delay_days,
                                   rate_premium_usd_teu, np.zeros(len(legs), dtype=bool),
                                   np.zeros(len(legs), dtype=bool))
    scenario_loss = float(loss.sum())
    baseline_loss = _current_expected_loss(session, chokepoint, customer_id)

    by_customer = (
        legs.assign(expected_loss=loss)
        .groupby("customer_id")
        .agg(shipments=("id", "count"), exposure_usd=("value", "sum"),
             expected_loss_usd=("expected_loss", "sum"))
        .reset_index()
        .sort_values("expected_loss_usd", ascending=False)
    )
    log.info("what-if %s for %g days at %g USD/TEU: %d shipments, %.0f USD expected loss",
             chokepoint, days, rate_premium_usd_teu, len(legs), scenario_loss)
    return {
        "chokepoint": chokepoint,
        "days": days,
        "rate_premium_usd_teu": rate_premium_usd_teu,
        "as_of": as_of.isoformat(),
        "shipments": int(len(legs)),
        "exposure_usd": round(float(value.sum()), 2),
        "expected_loss_usd": round(scenario_loss, 2),
        "current_expected_loss_usd": round(baseline_loss, 2),
        "change_usd": round(scenario_loss - baseline_loss, 2),
        "by_customer": by_customer.round(2).to_dict(orient="records"),
    }


def _current_expected_loss(session: Session, chokepoint: str, customer_id: str | None) -> float:
    query = select(func.coalesce(func.sum(Decision.expected_loss_usd), 0.0)).where(
        Decision.chokepoint == chokepoint, Decision.is_expired.is_(False)
    )
    if customer_id is not None:
        query = query.where(Decision.customer_id == customer_id)
    return float(session.scalar(query) or 0.0)
