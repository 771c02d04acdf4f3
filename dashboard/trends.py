"""Severity trends over 24 hours, 7 days, 30 days and the replay range."""

from __future__ import annotations

from datetime import datetime, time, timezone

import plotly.express as px
import streamlit as st

from dashboard._shared import (
    READ_TTL,
    SEVERITIES,
    SEVERITY_COLORS,
    in_session,
    live,
    money,
    read,
    settings,
    show_table,
)
from dashboard._auth import require_identity

require_identity()


def _day(value: str) -> datetime:
    return datetime.combine(datetime.fromisoformat(value).date(), time(), timezone.utc)


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_trend(window: str):
    from engine.models.base import utcnow
    from engine.readmodels.trends import severity_trend

    config = settings()
    return in_session(severity_trend, window, utcnow(), _day(config.REPLAY_START),
                      _day(config.REPLAY_END))


@live
def body(window: str) -> None:
    from engine.readmodels.trends import WINDOWS, trend_totals

    trend = read(load_trend, window, what="The severity trend")
    if trend is None:
        return
    spec = WINDOWS[window]
    if trend.empty:
        st.info(f"No decisions were generated in this window ({spec.label.lower()}).")
        return
    totals = trend_totals(trend)
    cols = st.columns(5)
    cols[0].metric("Decisions", f"{sum(totals.values()):,}")
    for column, severity in zip(cols[1:], SEVERITIES):
        column.metric(severity.title(), f"{totals.get(severity, 0):,}")

    axis = "Replay date (as_of)" if spec.domain_time else "Generated at (UTC)"
    chart = px.bar(trend, x="bucket", y="decisions", color="severity",
                   color_discrete_map=SEVERITY_COLORS,
                   category_orders={"severity": SEVERITIES},
                   labels={"bucket": axis, "decisions": "Decisions", "severity": "Severity"})
    chart.update_layout(height=360, margin={"t": 10}, bargap=0.1,
                        legend={"orientation": "h", "y": 1.08})
    st.plotly_chart(chart, width="stretch", key=f"trend_chart_{window}")

    exposure = trend.pivot_table(index="bucket", columns="severity", values="exposure_usd",
                                 aggfunc="sum").fillna(0).reset_index()
    melted = exposure.melt(id_vars="bucket", var_name="severity", value_name="exposure_usd")
    line = px.area(melted, x="bucket", y="exposure_usd", color="severity",
                   color_discrete_map=SEVERITY_COLORS, category_orders={"severity": SEVERITIES},
                   labels={"bucket": axis, "exposure_usd": "Cargo exposed (USD)",
                           "severity": "Severity"})
    line.update_layout(height=300, margin={"t": 10}, showlegend=False)
    st.subheader("Exposure of the generated decisions")
    st.plotly_chart(line, width="stretch", key=f"exposure_chart_{window}")
    st.caption(f"Largest bucket: {money(trend.groupby('bucket')['exposure_usd'].sum().max())}.")
    show_table(trend, f"severity trend ({spec.label.lower()})", f"severity_trend_{window}",
               height=260)


st.title("Severity trends")
st.caption("The 24-hour, 7-day and 30-day windows count decisions by when the pipeline "
           "generated them; the replay range counts them by the crisis day they were made for.")
window = st.segmented_control(
    "Window", ["24h", "7d", "30d", "replay"], default="replay", key="trend_window",
    format_func={"24h": "24 hours", "7d": "7 days", "30d": "30 days",
                 "replay": "Replay range"}.get,
)
body(window or "replay")
