"""Exposure by customer and chokepoint, the map, and the what-if of the decision engine."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard._map import exposure_map, topojson_url
from dashboard._shared import (
    READ_TTL,
    SEVERITY_COLORS,
    domain_now,
    in_session,
    live,
    money,
    read,
    show_table,
)
from dashboard._auth import require_identity

require_identity()


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_by_customer():
    from engine.queries import exposure_by_customer

    return in_session(exposure_by_customer)


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_by_chokepoint():
    from engine.readmodels.exposure import exposure_by_chokepoint

    return in_session(exposure_by_chokepoint)


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_map():
    from engine.geography import chokepoints
    from engine.readmodels.exposure import affected_shipments, lane_paths

    shipments = in_session(affected_shipments, domain_now())
    return shipments, lane_paths(), list(chokepoints().values())


def customer_tab() -> None:
    frame = read(load_by_customer, what="Exposure by customer")
    if frame is None:
        return
    if frame.empty:
        st.info("No active decisions: no customer is exposed right now.")
        return
    frame = frame.assign(label=frame["customer_id"] + " " + frame["name"])
    chart = px.bar(frame, x="exposure_usd", y="label", orientation="h",
                   hover_data=["decisions", "expected_loss_usd"], color="expected_loss_usd",
                   color_continuous_scale="OrRd",
                   labels={"exposure_usd": "Cargo value exposed (USD)", "label": "",
                           "expected_loss_usd": "Expected loss"})
    chart.update_layout(yaxis={"categoryorder": "total ascending"},
                        height=max(320, 22 * len(frame)), margin={"t": 10})
    st.plotly_chart(chart, width="stretch", key="customer_chart")
    show_table(frame.drop(columns=["label"]), "exposure by customer", "exposure_by_customer",
               column_config={"exposure_usd": st.column_config.NumberColumn(format="$%,.0f"),
                              "expected_loss_usd": st.column_config.NumberColumn(format="$%,.0f")})


def chokepoint_tab() -> None:
    frame = read(load_by_chokepoint, what="Exposure by chokepoint")
    if frame is None:
        return
    if frame.empty:
        st.info("No active decisions at any chokepoint.")
        return
    chart = px.bar(frame, x="name", y="exposure_usd", color="worst_severity",
                   color_discrete_map=SEVERITY_COLORS,
                   hover_data=["decisions", "customers", "shipments", "expected_loss_usd"],
                   labels={"exposure_usd": "Cargo value exposed (USD)", "name": "",
                           "worst_severity": "Worst severity"})
    chart.update_layout(height=340, margin={"t": 10})
    st.plotly_chart(chart, width="stretch", key="chokepoint_chart")
    show_table(frame.drop(columns=["lat", "lon"]), "exposure by chokepoint",
               "exposure_by_chokepoint",
               column_config={"exposure_usd": st.column_config.NumberColumn(format="$%,.0f"),
                              "expected_loss_usd": st.column_config.NumberColumn(format="$%,.0f")})


def map_tab() -> None:
    chokepoint_frame = read(load_by_chokepoint, what="The exposure map")
    loaded = read(load_map, what="The exposure map")
    if chokepoint_frame is None or loaded is None:
        return
    shipments, lanes, known = loaded
    figure = exposure_map(chokepoint_frame.dropna(subset=["lat"]), shipments, lanes, known)
    st.plotly_chart(figure, width="stretch", key="exposure_map",
                    config={"topojsonURL": topojson_url(), "displaylogo": False})
    st.caption(f"{len(shipments):,} affected shipments of the riskiest active decisions, placed "
               "by the share of their voyage elapsed at the replay date (an estimate, not an "
               "AIS position). Circle size is the cargo value exposed at each chokepoint.")
    show_table(shipments, "affected shipments", "affected_shipments", height=300,
               empty="No shipment is affected by an active decision.")


@live
def body() -> None:
    by_customer, by_chokepoint, on_map = st.tabs(["By customer", "By chokepoint", "Map"])
    with by_customer:
        customer_tab()
    with by_chokepoint:
        chokepoint_tab()
    with on_map:
        map_tab()


def run_what_if(chokepoint: str, days: int, premium: float, customer: str | None) -> dict:
    from engine.decisions.whatif import what_if

    return in_session(what_if, domain_now(), chokepoint, float(days), float(premium), customer)


def what_if_section() -> None:
    from engine.decisions.whatif import WhatIfError
    from engine.geography import chokepoints

    st.subheader("What if a chokepoint closes?")
    st.caption("Assumes a certain closure from the replay date and shows the USD change against "
               "the expected loss the active decisions already carry.")
    places = chokepoints()
    with st.form("what_if"):
        cols = st.columns([2, 1, 1, 2])
        chokepoint = cols[0].selectbox("Chokepoint", list(places),
                                       format_func=lambda k: places[k].name,
                                       index=list(places).index("bab_el_mandeb"))
        days = cols[1].number_input("Days closed", min_value=1, max_value=365, value=14)
        premium = cols[2].number_input("Rate premium (USD/TEU)", min_value=0, max_value=20_000,
                                       value=1500, step=100)
        customer = cols[3].text_input("Customer id (empty: whole book)")
        submitted = st.form_submit_button("Run what-if", type="primary")
    if submitted:
        try:
            st.session_state["what_if_result"] = run_what_if(
                chokepoint, days, premium, customer.strip() or None)
        except WhatIfError as exc:
            st.session_state.pop("what_if_result", None)
            st.error(str(exc))
        except Exception as exc:
            from dashboard._shared import describe_failure

            st.error(describe_failure(exc, "The what-if"))
    result = st.session_state.get("what_if_result")
    if result:
        show_what_if(result)


def show_what_if(result: dict) -> None:
    from engine.geography import chokepoints

    place = chokepoints().get(result["chokepoint"])
    name = place.name if place else result["chokepoint"]
    st.markdown(f"**{name}** closed for **{result['days']:g} days**, rate premium "
                f"**{result['rate_premium_usd_teu']:,.0f} USD/TEU**")
    cols = st.columns(4)
    cols[0].metric("Shipments affected", f"{result['shipments']:,}")
    cols[1].metric("Cargo exposed", money(result["exposure_usd"]))
    cols[2].metric("Expected loss in scenario", money(result["expected_loss_usd"]),
                   f"{money(result['change_usd'])} vs today", delta_color="inverse")
    cols[3].metric("Carried by active decisions", money(result["current_expected_loss_usd"]))
    frame = pd.DataFrame(result["by_customer"])
    if not frame.empty:
        chart = px.bar(frame.head(25), x="customer_id", y="expected_loss_usd",
                       labels={"expected_loss_usd": "Expected loss (USD)", "customer_id": ""})
        chart.update_layout(height=300, margin={"t": 10})
        st.plotly_chart(chart, width="stretch", key="what_if_chart")
    show_table(frame, "what-if by customer", "what_if_by_customer",
               empty="No open shipment passes this chokepoint in the scenario.")


st.title("Exposure")
body()
st.divider()
what_if_section()
