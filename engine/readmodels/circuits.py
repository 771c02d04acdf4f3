"""Circuit breaker history and the business impact of open circuits.

History comes from the ``circuit_events`` table. The impact counts decisions
whose provenance recorded the circuit as not closed when they were generated:
those decisions were made with a source missing.
"""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import cast, func, literal, literal_column, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from engine.models import CircuitEvent, Decision
from engine.readmodels.common import frame, is_postgres

# State names as pybreaker and the runbook write them.
NOT_CLOSED = ("open", "half-open", "half_open", "OPEN", "HALF_OPEN")


def circuit_history(session: Session, name: str | None = None, limit: int = 200) -> pd.DataFrame:
    query = select(CircuitEvent.id, CircuitEvent.name, CircuitEvent.from_state,
                   CircuitEvent.to_state, CircuitEvent.reason, CircuitEvent.at)
    if name:
        query = query.where(CircuitEvent.name == name)
    rows = session.execute(query.order_by(CircuitEvent.at.desc()).limit(limit)).all()
    return frame(rows, ["id", "name", "from_state", "to_state", "reason", "at"])


def transitions_by_circuit(session: Session) -> dict[str, dict]:
    """Per circuit: how often it opened, and when it last changed."""
    rows = session.execute(
        select(CircuitEvent.name,
               func.count().filter(func.upper(CircuitEvent.to_state) == "OPEN"),
               func.max(CircuitEvent.at))
        .group_by(CircuitEvent.name)
    ).all()
    return {name: {"opened": int(opened), "last_change": last} for name, opened, last in rows}


def _opened_clause(session: Session, name: str):
    if is_postgres(session):
        # Written literally so that it matches the expression of the GIN index
        # ix_decisions_circuits (jsonb_path_ops), which serves the containment test.
        column = literal_column("(decisions.provenance -> 'circuits')", type_=JSONB)
        return or_(*(column.op("@>")(cast(literal(json.dumps({name: state})), JSONB))
                     for state in NOT_CLOSED))
    return Decision.provenance["circuits"][name].as_string().in_(NOT_CLOSED)


def impact_while_open(session: Session, name: str, limit: int = 50) -> dict:
    """Decisions generated while ``name`` was not closed: count, exposure and newest."""
    clause = _opened_clause(session, name)
    count, exposure, loss = session.execute(
        select(func.count(), func.coalesce(func.sum(Decision.exposure_usd), 0.0),
               func.coalesce(func.sum(Decision.expected_loss_usd), 0.0)).where(clause)
    ).one()
    rows = session.execute(
        select(Decision.id, Decision.customer_id, Decision.chokepoint, Decision.severity,
               Decision.status, Decision.exposure_usd, Decision.created_at)
        .where(clause).order_by(Decision.created_at.desc()).limit(limit)
    ).all()
    return {
        "decisions": int(count),
        "exposure_usd": float(exposure),
        "expected_loss_usd": float(loss),
        "latest": frame(rows, ["id", "customer_id", "chokepoint", "severity", "status",
                               "exposure_usd", "created_at"]),
    }
