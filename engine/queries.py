"""Read models for the dashboard and reports, aggregated in SQL."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from engine.models import Alert, Customer, Decision, PipelineRun

# "= false" (not "IS false") lets PostgreSQL use the partial index ix_decisions_active_book.
ACTIVE = Decision.is_expired == false()
CURRENT = Decision.status.notin_(("SUPERSEDED", "EXPIRED"))


def overview(session: Session) -> dict:
    """Key figures of the active book, the alert queue and the last pipeline tick."""
    # One scan of the active book, grouped by severity and customer. The
    # totals, distinct customers and severity counts then come from a few
    # thousand groups, so no second scan or distinct sort is needed.
    groups = session.execute(
        select(Decision.severity, Decision.customer_id, func.count(),
               func.sum(Decision.exposure_usd), func.sum(Decision.expected_loss_usd))
        .where(ACTIVE, CURRENT)
        .group_by(Decision.severity, Decision.customer_id)
    ).all()
    active, exposure, loss = 0, 0.0, 0.0
    customers: set[str] = set()
    by_severity: dict[str, int] = {}
    for severity, customer_id, count, group_exposure, group_loss in groups:
        active += count
        exposure += group_exposure or 0.0
        loss += group_loss or 0.0
        customers.add(customer_id)
        by_severity[severity] = by_severity.get(severity, 0) + count
    by_status = dict(session.execute(select(Alert.status, func.count()).group_by(Alert.status)).all())
    last_tick = session.execute(
        select(PipelineRun.replay_at, PipelineRun.started_at, PipelineRun.status)
        .where(PipelineRun.job == "tick").order_by(PipelineRun.started_at.desc()).limit(1)
    ).first()
    return {
        "active_decisions": int(active),
        "total_exposure_usd": float(exposure),
        "expected_loss_usd": float(loss),
        "customers_affected": len(customers),
        "decisions_by_severity": by_severity,
        "alerts_by_status": by_status,
        "replay_at": last_tick.replay_at if last_tick else None,
        "last_tick_at": last_tick.started_at if last_tick else None,
        "last_tick_status": last_tick.status if last_tick else None,
    }


def exposure_by_customer(session: Session, limit: int = 50) -> pd.DataFrame:
    """Active exposure per customer, largest first."""
    # Aggregate the active book first and join only the per-customer totals
    # to the customer names.
    totals = (
        select(
            Decision.customer_id,
            func.count().label("decisions"),
            func.sum(Decision.exposure_usd).label("exposure_usd"),
            func.sum(Decision.expected_loss_usd).label("expected_loss_usd"),
        )
        .where(ACTIVE, CURRENT)
        .group_by(Decision.customer_id)
        .subquery()
    )
    rows = session.execute(
        select(totals.c.customer_id, Customer.name, totals.c.decisions,
               totals.c.exposure_usd, totals.c.expected_loss_usd)
        .join(Customer, Customer.id == totals.c.customer_id)
        .order_by(totals.c.exposure_usd.desc())
        .limit(limit)
    ).all()
    return pd.DataFrame(
        rows, columns=["customer_id", "name", "decisions", "exposure_usd", "expected_loss_usd"]
    )
