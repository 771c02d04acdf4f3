"""Severity of generated decisions over time.

The 24-hour, 7-day and 30-day windows count decisions by ``created_at`` (wall
time: what the pipeline produced recently). The replay window counts them by
``as_of`` (domain time: the day of the crisis the decision was made for).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.models import Decision
from engine.readmodels.common import time_bucket, utc_series


@dataclass(frozen=True)
class Window:
    key: str
    label: str
    span: timedelta | None
    bucket_seconds: int
    domain_time: bool


WINDOWS = {
    w.key: w
    for w in (
        Window("24h", "Last 24 hours", timedelta(hours=24), 3600, False),
        Window("7d", "Last 7 days", timedelta(days=7), 6 * 3600, False),
        Window("30d", "Last 30 days", timedelta(days=30), 86400, False),
        Window("replay", "Replay range", None, 86400, True),
    )
}


def severity_trend(session: Session, window: str, now: datetime,
                   replay_start: datetime | None = None,
                   replay_end: datetime | None = None) -> pd.DataFrame:
    """Decisions and exposure per time bucket and severity, as a long frame."""
    if window not in WINDOWS:
        raise ValueError(f"unknown window {window!r}; use one of {', '.join(WINDOWS)}")
    spec = WINDOWS[window]
    column = Decision.as_of if spec.domain_time else Decision.created_at
    bucket = time_bucket(session, column, spec.bucket_seconds).label("bucket")
    query = select(
        bucket, Decision.severity, func.count().label("decisions"),
        func.sum(Decision.exposure_usd).label("exposure_usd"),
    )
    if spec.domain_time:
        if replay_start is not None:
            query = query.where(column >= replay_start)
        if replay_end is not None:
            query = query.where(column <= replay_end)
    else:
        query = query.where(column > now - spec.span, column <= now)
    rows = session.execute(query.group_by(bucket, Decision.severity).order_by(bucket)).all()
    result = pd.DataFrame([tuple(r) for r in rows],
                          columns=["bucket", "severity", "decisions", "exposure_usd"])
    result["bucket"] = utc_series(result["bucket"])
    return result


def trend_totals(trend: pd.DataFrame) -> dict[str, int]:
    """Decisions per severity over the whole window."""
    if trend.empty:
        return {}
    return {k: int(v) for k, v in trend.groupby("severity")["decisions"].sum().items()}
