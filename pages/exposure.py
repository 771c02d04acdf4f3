"""Exposure by customer."""

import plotly.express as px
import streamlit as st

from pages._shared import read


@st.cache_data(ttl=10)
def load_exposure():
    from engine.db import session_scope
    from engine.queries import exposure_by_customer

    with session_scope() as session:
        return exposure_by_customer(session)


st.title("Exposure by customer")
frame = read(load_exposure, what="Exposure by customer")
if frame is not None:
    if frame.empty:
        st.info("No active decisions: no customer is exposed right now.")
    else:
        frame["label"] = frame["customer_id"] + " " + frame["name"]
        chart = px.bar(frame, x="exposure_usd", y="label", orientation="h",
                       hover_data=["decisions", "expected_loss_usd"],
                       labels={"exposure_usd": "Cargo value exposed (USD)", "label": "Customer"})
        chart.update_layout(yaxis={"categoryorder": "total ascending"}, height=max(400, 22 * len(frame)))
        st.plotly_chart(chart, width="stretch")
        st.dataframe(frame.drop(columns=["label"]), hide_index=True)
