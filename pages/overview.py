"""Overview: active decisions, exposure, severities and the alert queue."""

import streamlit as st

from pages._shared import read


@st.cache_data(ttl=10)
def load_overview() -> dict:
    from engine.db import session_scope
    from engine.queries import overview

    with session_scope() as session:
        return overview(session)


st.title("RISKCAST overview")
data = read(load_overview, what="The overview")
if data is not None:
    replay = data["replay_at"]
    st.caption(f"Replay date {replay:%Y-%m-%d}" if replay else "No pipeline tick yet")
    cols = st.columns(3)
    cols[0].metric("Active decisions", f"{data['active_decisions']:,}")
    cols[1].metric("Total exposure", f"${data['total_exposure_usd']:,.0f}")
    cols[2].metric("Last tick", data["last_tick_status"] or "none")

    left, right = st.columns(2)
    with left:
        st.subheader("Decisions by severity")
        order = ["CRITICAL", "HIGH", "MEDIUM", "LOW"]
        counts = {s: data["decisions_by_severity"].get(s, 0) for s in order}
        st.bar_chart(counts, horizontal=True)
    with right:
        st.subheader("Alerts by status")
        if data["alerts_by_status"]:
            st.bar_chart(data["alerts_by_status"], horizontal=True)
        else:
            st.info("No alerts yet.")
