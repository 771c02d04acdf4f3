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
    active, exposure, loss, customers = session.execute(
        select(func.count(), func.coalesce(func.sum(Decision.exposure_usd), 0.0),
               func.coalesce(func.sum(Decision.expected_loss_usd), 0.0),
               func.count(func.distinct(Decision.customer_id)))
        .where(ACTIVE, CURRENT)
    ).one()
    by_severity = dict(
        session.execute(
            select(Decision.severity, func.count()).where(ACTIVE, CURRENT)
            .group_by(Decision.severity)
        ).all()
    )
    by_status = dict(session.execute(select(Alert.status, func.count()).group_by(Alert.status)).all())
    last_tick = session.execute(
        select(PipelineRun.replay_at, PipelineRun.started_at, PipelineRun.status)
        .where(PipelineRun.job == "tick").order_by(PipelineRun.started_at.desc()).limit(1)
    ).first()
    return {
        "active_decisions": int(active),
        "total_exposure_usd": float(exposure),
        "expected_loss_usd": float(loss),
        "customers_affected": int(customers),
        "decisions_by_severity": by_severity,
        "alerts_by_status": by_status,
        "replay_at": last_tick.replay_at if last_tick else None,
        "last_tick_at": last_tick.started_at if last_tick else None,
        "last_tick_status": last_tick.status if last_tick else None,
    }


def exposure_by_customer(session: Session, limit: int = 50) -> pd.DataFrame:
    """Active exposure per customer, largest first."""
    rows = session.execute(
        select(
            Decision.customer_id,
            Customer.name,
            func.count().label("decisions"),
            func.sum(Decision.exposure_usd).label("exposure_usd"),
            func.sum(Decision.expected_loss_usd).label("expected_loss_usd"),
        )
        .join(Customer, Customer.id == Decision.customer_id)
        .where(ACTIVE, CURRENT)
        .group_by(Decision.customer_id, Customer.name)
        .order_by(func.sum(Decision.exposure_usd).desc())
        .limit(limit)
    ).all()
    return pd.DataFrame(
        rows, columns=["customer_id", "name", "decisions", "exposure_usd", "expected_loss_usd"]
    )
