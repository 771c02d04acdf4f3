"""RISKCAST dashboard entry point: ``streamlit run app.py``."""

import streamlit as st

from pages._auth import require_identity, sidebar

st.set_page_config(page_title="RISKCAST", page_icon=":material/sailing:", layout="wide")

identity = require_identity()
sidebar(identity)

pages = {
    "Monitor": [
        st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:",
                default=True),
        st.Page("pages/exposure.py", title="Exposure", icon=":material/payments:"),
        st.Page("pages/trends.py", title="Severity trends", icon=":material/trending_up:"),
        st.Page("pages/pipeline.py", title="Pipeline", icon=":material/conveyor_belt:"),
        st.Page("pages/circuits.py", title="Circuits", icon=":material/electrical_services:"),
    ],
    "Act": [
        st.Page("pages/decisions.py", title="Decisions", icon=":material/fact_check:"),
        st.Page("pages/alerts.py", title="Alerts", icon=":material/sms:"),
        st.Page("pages/maintenance.py", title="Maintenance", icon=":material/build:"),
    ],
    "Data": [
        st.Page("pages/reports.py", title="Reports", icon=":material/download:"),
        st.Page("pages/book.py", title="Customers and shipments", icon=":material/upload:"),
    ],
}
st.navigation(pages).run()
