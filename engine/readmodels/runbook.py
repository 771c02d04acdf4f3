"""The operations runbook's three common queries, as SQLAlchemy statements.

Each function returns the same rows as the runbook's SQL:

- active decisions by customer: ``SELECT customer_id, COUNT(*), SUM(exposure_usd)
  FROM decisions WHERE is_expired = false GROUP BY customer_id ORDER BY 3 DESC``
- decisions by severity: ``... WHERE created_at > NOW() - INTERVAL '24 hours'
  GROUP BY severity``
- customer activity: ``SELECT customer_id, MAX(created_at) ... GROUP BY
  customer_id ORDER BY 2 DESC LIMIT 20``
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from engine.models import Decision
from engine.readmodels.common import frame


def active_decisions_by_customer(session: Session) -> pd.DataFrame:
    total = func.sum(Decision.exposure_usd).label("total_exposure")
    rows = session.execute(
        select(Decision.customer_id, func.count().label("count"), total)
        .where(Decision.is_expired == false())
        .group_by(Decision.customer_id)
        .order_by(total.desc())
    ).all()
    return frame(rows, ["customer_id", "count", "total_exposure"])


def decisions_by_severity(session: Session, now: datetime) -> pd.DataFrame:
    rows = session.execute(
        select(Decision.severity, func.count().label("count"))
        .where(Decision.created_at > now - timedelta(hours=24))
        .group_by(Decision.severity)
    ).all()
    return frame(rows, ["severity", "count"])


def customer_activity(session: Session, limit: int = 20) -> pd.DataFrame:
    last = func.max(Decision.created_at).label("last_decision")
    rows = session.execute(
        select(Decision.customer_id, last)
        .group_by(Decision.customer_id)
        .order_by(last.desc())
        .limit(limit)
    ).all()
    return frame(rows, ["customer_id", "last_decision"])


COMMON_QUERIES = {
    "active_decisions_by_customer": ("Active decisions by customer", active_decisions_by_customer),
    "decisions_by_severity_24h": ("Decisions by severity, last 24 hours", decisions_by_severity),
    "customer_activity": ("Customer activity (last decision per customer)", customer_activity),
}
