"""Traffic lights against the runbook's monitoring thresholds.

| Metric | Warning | Critical |
|---|---|---|
| API latency p95 | > 500 ms | > 2 s |
| Error rate | > 1 % | > 5 % |
| Decision generation rate | < 50/min | < 10/min |
| Circuit breakers open | 1 service | > 2 services |
| Database connections | > 80 % of the pool | > 95 % of the pool |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from engine.models import Decision
from engine.opsmetrics import ApiStats
from engine.readmodels.common import is_postgres
from engine.settings import Settings

OK, WARNING, CRITICAL, NO_DATA = "ok", "warning", "critical", "no data"
RATE_WINDOW_MINUTES = 5
OPEN_STATES = ("open", "OPEN")


@dataclass(frozen=True)
class Light:
    key: str
    label: str
    status: str
    value: str
    threshold: str
    source: str


def grade_above(value: float | None, warning: float, critical: float) -> str:
    if value is None:
        return NO_DATA
    if value > critical:
        return CRITICAL
    return WARNING if value > warning else OK


def grade_below(value: float | None, warning: float, critical: float) -> str:
    if value is None:
        return NO_DATA
    if value < critical:
        return CRITICAL
    return WARNING if value < warning else OK


def decision_rate_per_minute(session: Session, now: datetime) -> float:
    """Decisions created or materially changed per minute over the last five minutes."""
    since = now - timedelta(minutes=RATE_WINDOW_MINUTES)
    count = session.scalar(
        select(func.count()).select_from(Decision).where(Decision.created_at > since)
    )
    return (count or 0) / RATE_WINDOW_MINUTES


def active_connections(session: Session) -> int | None:
    """The runbook's ``pg_stat_activity`` count of active connections (PostgreSQL)."""
    if not is_postgres(session):
        return None
    return int(session.scalar(
        text("SELECT count(*) FROM pg_stat_activity WHERE state = 'active'")
    ) or 0)


def _api_lights(api: ApiStats | None, api_error: str | None) -> list[Light]:
    if api is None:
        reason = api_error or "DASHBOARD_METRICS_URL is not set"
        return [
            Light("latency", "API latency p95", NO_DATA, "no data", "> 500 ms / > 2 s",
                  f"No data: {reason}."),
            Light("errors", "API error rate", NO_DATA, "no data", "> 1 % / > 5 %",
                  f"No data: {reason}."),
        ]
    latency = None if api.p95_seconds is None else api.p95_seconds * 1000.0
    return [
        Light("latency", "API latency p95", grade_above(latency, 500, 2000),
              "no requests" if latency is None else f"{latency:,.0f} ms", "> 500 ms / > 2 s",
              f"http_request_duration_seconds {api.window_label}"),
        Light("errors", "API error rate",
              grade_above(None if api.error_rate is None else api.error_rate * 100, 1, 5),
              "no requests" if api.error_rate is None else f"{api.error_rate:.2%}",
              "> 1 % / > 5 %",
              f"5xx share of http_requests_total {api.window_label} "
              f"({api.requests:,.0f} requests)"),
    ]


def _pool_light(api: ApiStats | None, own_checked_out: int, own_capacity: int,
                active: int | None) -> Light:
    if api is not None and api.pool_capacity:
        used, capacity = api.pool_checked_out or 0.0, api.pool_capacity
        source = "riskcast_db_pool_checked_out / riskcast_db_pool_capacity, every process"
    else:
        used, capacity = float(own_checked_out), float(own_capacity)
        source = "this dashboard process's pool"
    if active is not None:
        source += f"; {active} active connections in pg_stat_activity"
    share = used / capacity * 100 if capacity else None
    return Light("connections", "Database connections", grade_above(share, 80, 95),
                 "no data" if share is None else f"{used:.0f} of {capacity:.0f} ({share:.0f} %)",
                 "> 80 % / > 95 % of the pool", source)


def traffic_lights(session: Session, now: datetime, settings: Settings, circuits: dict,
                   api: ApiStats | None, api_error: str | None,
                   own_pool: tuple[int, int]) -> list[Light]:
    """Grade every runbook threshold: its current value and status."""
    rate = decision_rate_per_minute(session, now)
    open_names = [n for n, s in circuits.items() if str(s.get("state")) in OPEN_STATES]
    open_count = len(open_names)
    if open_count > 2:
        circuit_status = CRITICAL
    elif open_count >= 1:
        circuit_status = WARNING
    else:
        circuit_status = OK
    lights = _api_lights(api, api_error)
    lights.append(Light(
        "decision_rate", "Decision generation rate", grade_below(rate, 50, 10),
        f"{rate:,.1f}/min", "< 50/min / < 10/min",
        f"decisions created in the last {RATE_WINDOW_MINUTES} min "
        f"(decisions_generated_total); one tick per {settings.PIPELINE_INTERVAL_SECONDS} s",
    ))
    lights.append(Light(
        "circuits", "Circuit breakers open", circuit_status,
        f"{open_count} open" + (f": {', '.join(open_names)}" if open_names else ""),
        "1 service / > 2 services", "circuit breaker states",
    ))
    lights.append(_pool_light(api, own_pool[0], own_pool[1], active_connections(session)))
    return lights
