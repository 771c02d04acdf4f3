"""Pipeline: runs with durations and counts, data age per source, worker heartbeats."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard._shared import READ_TTL, domain_now, in_session, live, read, show_table
from dashboard._auth import require_identity

require_identity()

JOBS = ["all", "tick", "dispatch", "cleanup", "vacuum"]


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_runs(job: str | None, status: str | None):
    from engine.readmodels.pipeline import recent_runs

    return in_session(recent_runs, job, status)


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_status():
    from engine.models.base import utcnow
    from engine.readmodels.pipeline import heartbeats, job_summary, source_freshness

    now = utcnow()
    return (in_session(job_summary, now), in_session(source_freshness, domain_now(), now),
            in_session(heartbeats, now))


@live
def status() -> None:
    loaded = read(load_status, what="The pipeline status")
    if loaded is None:
        return
    jobs, sources, beats = loaded
    st.subheader("Jobs in the last 24 hours")
    show_table(jobs, "job summary", "job_summary", empty="No job has run in the last 24 hours.",
               column_config={"avg_seconds": st.column_config.NumberColumn(format="%.2f s"),
                              "max_seconds": st.column_config.NumberColumn(format="%.2f s")})
    left, right = st.columns(2)
    with left:
        st.subheader("Data age per source")
        st.caption("Data age: replay date minus the newest record. Since success: wall-clock "
                   "minutes since the source last answered.")
        show_table(sources, "data age per source", "source_freshness",
                   empty="No source has been read yet.")
    with right:
        st.subheader("Worker heartbeats")
        if not beats.empty and beats["stale"].all():
            st.warning("Every worker heartbeat is stale: no worker is running the pipeline.")
        show_table(beats, "heartbeats", "heartbeats", empty="No worker has started yet.")


@live
def runs(job: str | None, run_status: str | None) -> None:
    frame = read(load_runs, job, run_status, what="The pipeline runs")
    if frame is None:
        return
    if frame.empty:
        st.info("No pipeline run matches these filters yet.")
        return
    left, right = st.columns(2)
    with left:
        chart = px.scatter(frame, x="started_at", y="duration_seconds", color="status",
                           symbol="job",
                           color_discrete_map={"ok": "#2e7d32", "failed": "#c62828",
                                               "running": "#1565c0", "skipped": "#9e9e9e"},
                           labels={"started_at": "Started", "duration_seconds": "Seconds"})
        chart.update_layout(height=300, margin={"t": 30}, title="Run durations")
        st.plotly_chart(chart, width="stretch", key="duration_chart")
    with right:
        ticks = frame[(frame["job"] == "tick") & frame["replay_at"].notna()]
        counts = ticks.melt(id_vars="replay_at", value_vars=["decisions", "alerts"],
                            var_name="kind", value_name="count")
        chart = px.bar(counts, x="replay_at", y="count", color="kind", barmode="group",
                       labels={"replay_at": "Replay date of the tick", "count": "Rows"})
        chart.update_layout(height=300, margin={"t": 30},
                            title="Decisions and alerts written per tick")
        st.plotly_chart(chart, width="stretch", key="count_chart")
    show_table(frame, "pipeline runs", "pipeline_runs", height=320,
               column_config={"duration_seconds": st.column_config.NumberColumn(format="%.2f s")})


st.title("Pipeline")
status()
st.divider()
st.subheader("Runs")
cols = st.columns(2)
job = cols[0].selectbox("Job", JOBS, key="run_job")
run_status = cols[1].selectbox("Status", ["all", "ok", "failed", "running", "skipped"],
                               key="run_status")
runs(None if job == "all" else job, None if run_status == "all" else run_status)
