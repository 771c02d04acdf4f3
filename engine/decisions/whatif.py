"""What-if: the USD effect of an assumed disruption on open shipments."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.decisions import costs
from engine.decisions.generate import affected, load_open_shipments
from engine.geography import chokepoints
from engine.models import Decision


class WhatIfError(ValueError):
    """Raised when a what-if scenario has an invalid parameter."""


def what_if(session: Session, as_of: datetime, chokepoint: str, days: float,
            rate_premium_usd_teu: float, customer_id: str | None = None) -> dict:
    """Apply a certain closure of ``chokepoint`` for ``days`` from ``as_of``.

    Returns the exposure and expected loss it would add to the book (or to
    one customer's shipments), against the expected loss already carried by
    active decisions at that chokepoint.
    """
    if chokepoint not in chokepoints():
        raise WhatIfError(
            f"unknown chokepoint {chokepoint!r}; choose one of {', '.join(chokepoints())}"
        )
    if not 0 < days <= 365:
        raise WhatIfError(f"days={days} is out of range; give a duration from 1 to 365 days")
    if not 0 <= rate_premium_usd_teu <= 20_000:
        raise WhatIfError(
            f"rate premium {rate_premium_usd_teu} USD/TEU is out of range; use 0 to 20,000"
        )

    shipments = load_open_shipments(session, as_of)
    if customer_id is not None:
        shipments = shipments[shipments["customer_id"] == customer_id]
    frame = affected(shipments, chokepoint, as_of)
    closes_at = as_of + timedelta(days=days)
    frame = frame[frame["reaches_at"] <= closes_at]

    value = frame["value"].to_numpy(float)
    extra = frame["extra_days"].to_numpy(float)
    # Without an alternative lane, cargo waits for the chokepoint to reopen.
    waiting = (closes_at - frame["reaches_at"]).dt.total_seconds().to_numpy(float) / 86400.0
    delay_days = np.where(extra > 0, extra, np.maximum(waiting, 0.0))
    result = costs.shipment_costs(
        probability=1.0, value=value, feu=frame["feu"].to_numpy(float),
        extra_days=delay_days, rate_premium_usd_teu=rate_premium_usd_teu,
        reroutable=np.ones(len(frame), dtype=bool),
        departed=(frame["etd"] <= as_of).to_numpy() if len(frame) else np.zeros(0, dtype=bool),
    )
    scenario_loss = float(result.expected_loss.sum())

    current = select(func.coalesce(func.sum(Decision.expected_loss_usd), 0.0)).where(
        Decision.chokepoint == chokepoint, Decision.is_expired.is_(False),
        Decision.status.notin_(("SUPERSEDED", "EXPIRED")),
    )
    if customer_id is not None:
        current = current.where(Decision.customer_id == customer_id)
    baseline_loss = float(session.scalar(current) or 0.0)

    by_customer = (
        frame.assign(expected_loss=result.expected_loss)
        .groupby("customer_id")
        .agg(shipments=("id", "count"), exposure_usd=("value", "sum"),
             expected_loss_usd=("expected_loss", "sum"))
        .reset_index()
        .sort_values("expected_loss_usd", ascending=False)
    )
    return {
        "chokepoint": chokepoint,
        "days": days,
        "rate_premium_usd_teu": rate_premium_usd_teu,
        "shipments": int(len(frame)),
        "exposure_usd": round(float(value.sum()), 2),
        "expected_loss_usd": round(scenario_loss, 2),
        "current_expected_loss_usd": round(baseline_loss, 2),
        "change_usd": round(scenario_loss - baseline_loss, 2),
        "by_customer": by_customer.round(2).to_dict(orient="records"),
    }
