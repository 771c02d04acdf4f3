"""Overview: what is our exposure and what is broken, at a glance."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard._shared import (
    SEVERITIES,
    SEVERITY_COLORS,
    READ_TTL,
    in_session,
    live,
    money,
    read,
    settings,
)
from dashboard._auth import require_identity

require_identity()

STATUS_BADGES = {"ok": ("green", "OK"), "warning": ("orange", "Warning"),
                 "critical": ("red", "Critical"), "no data": ("gray", "No data")}


@st.cache_resource
def metrics_reader(url: str):
    from engine.opsmetrics import MetricsReader

    return MetricsReader(url)


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_overview() -> dict:
    from engine.queries import overview

    return in_session(overview)


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_health() -> dict:
    from engine.health import full_health

    return full_health()


def api_stats():
    """Read the API's metrics; return (stats, reason when unavailable)."""
    from engine.opsmetrics import MetricsUnavailableError

    url = settings().DASHBOARD_METRICS_URL
    if not url:
        return None, "DASHBOARD_METRICS_URL is not set, so the ops API's metrics are not read"
    try:
        return metrics_reader(url).read(), None
    except MetricsUnavailableError as exc:
        cause = type(exc.__cause__).__name__
        return None, f"the ops API's metrics at {url} could not be read ({cause})"


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_lights() -> list:
    from engine import breakers
    from engine.db import get_engine
    from engine.models.base import utcnow
    from engine.readmodels.monitoring import traffic_lights

    api, api_error = api_stats()
    pool = get_engine().pool
    own = (pool.checkedout(), settings().POOL_SIZE + settings().MAX_OVERFLOW) \
        if hasattr(pool, "checkedout") else (0, 0)
    return in_session(traffic_lights, utcnow(), settings(), breakers.snapshot(), api,
                      api_error, own)


def show_lights(lights: list) -> None:
    columns = st.columns(len(lights))
    for column, light in zip(columns, lights):
        color, label = STATUS_BADGES[light.status]
        with column.container(border=True, height="stretch"):
            st.markdown(f"**{light.label}**")
            st.markdown(f"### {light.value}")
            st.badge(label, color=color)
            st.caption(f"Warn / critical: {light.threshold}. {light.source}")


def show_health(health: dict) -> None:
    worker = health.get("worker", {})
    tick = health.get("last_tick") or {}
    redis_state = health["redis"]
    cols = st.columns(4)
    latency = health["database"].get("latency_ms", 0)
    cols[0].metric("Database", health["database"]["state"], f"{latency:.1f} ms",
                   delta_color="off", delta_arrow="off")
    cols[1].metric("Redis", redis_state["state"],
                   redis_state.get("error") or f"{redis_state.get('latency_ms', 0):.1f} ms",
                   delta_color="off", delta_arrow="off")
    age = worker.get("heartbeat_age_seconds")
    cols[2].metric("Worker heartbeat", worker.get("state", "unknown"),
                   "no heartbeat yet" if age is None else f"{age:,.0f} s ago",
                   delta_color="off", delta_arrow="off")
    tick_age = tick.get("age_seconds")
    cols[3].metric("Last tick", tick.get("status", "none"),
                   "no tick yet" if tick_age is None else f"{tick_age:,.0f} s ago",
                   delta_color="off", delta_arrow="off")


def show_figures(data: dict) -> None:
    queued = sum(data["alerts_by_status"].get(s, 0) for s in ("PENDING", "SENDING"))
    failed = sum(data["alerts_by_status"].get(s, 0) for s in ("FAILED", "DEAD"))
    cols = st.columns(6)
    cols[0].metric("Active decisions", f"{data['active_decisions']:,}")
    cols[1].metric("Cargo exposed", money(data["total_exposure_usd"]))
    cols[2].metric("Expected loss", money(data["expected_loss_usd"]))
    cols[3].metric("Customers affected", f"{data['customers_affected']:,}")
    cols[4].metric("Alerts queued", f"{queued:,}")
    cols[5].metric("Alerts failed", f"{failed:,}")


def show_charts(data: dict) -> None:
    left, right = st.columns(2)
    with left:
        st.subheader("Active decisions by severity")
        counts = {s: data["decisions_by_severity"].get(s, 0) for s in SEVERITIES}
        chart = px.bar(x=list(counts.values()), y=list(counts), orientation="h",
                       color=list(counts), color_discrete_map=SEVERITY_COLORS,
                       labels={"x": "Decisions", "y": ""})
        chart.update_layout(showlegend=False, height=280, margin={"t": 10, "b": 10},
                            yaxis={"categoryorder": "array", "categoryarray": SEVERITIES[::-1]})
        st.plotly_chart(chart, width="stretch", key="severity_chart")
    with right:
        st.subheader("Alerts by status")
        statuses = data["alerts_by_status"]
        if not statuses:
            st.info("No alerts yet.")
            return
        chart = px.bar(x=list(statuses.values()), y=list(statuses), orientation="h",
                       labels={"x": "Alerts", "y": ""})
        chart.update_layout(height=280, margin={"t": 10, "b": 10},
                            yaxis={"categoryorder": "total ascending"})
        st.plotly_chart(chart, width="stretch", key="alert_chart")


@live
def body() -> None:
    data = read(load_overview, what="The overview")
    if data is not None:
        replay = data["replay_at"]
        st.caption(f"Replay date {replay:%d %b %Y}" if replay else "No pipeline tick yet.")
    st.subheader("Runbook thresholds")
    lights = read(load_lights, what="The runbook thresholds")
    if lights is not None:
        show_lights(lights)
    health = read(load_health, what="Dependency health")
    if health is not None:
        show_health(health)
    if data is not None:
        st.divider()
        show_figures(data)
        show_charts(data)


st.title("RISKCAST overview")
body()
