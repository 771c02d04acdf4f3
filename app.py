"""RISKCAST dashboard entry point: ``streamlit run app.py``."""

import streamlit as st

from dashboard._auth import require_identity, sidebar

st.set_page_config(page_title="RISKCAST", page_icon=":material/sailing:", layout="wide")

identity = require_identity()
sidebar(identity)

pages = {
    "Monitor": [
        st.Page("dashboard/overview.py", title="Overview", icon=":material/dashboard:",
                default=True),
        st.Page("dashboard/exposure.py", title="Exposure", icon=":material/payments:"),
        st.Page("dashboard/trends.py", title="Severity trends", icon=":material/trending_up:"),
        st.Page("dashboard/pipeline.py", title="Pipeline", icon=":material/conveyor_belt:"),
        st.Page("dashboard/circuits.py", title="Circuits", icon=":material/electrical_services:"),
    ],
    "Act": [
        st.Page("dashboard/decisions.py", title="Decisions", icon=":material/fact_check:"),
        st.Page("dashboard/alerts.py", title="Alerts", icon=":material/sms:"),
        st.Page("dashboard/maintenance.py", title="Maintenance", icon=":material/build:"),
    ],
    "Data": [
        st.Page("dashboard/reports.py", title="Reports", icon=":material/download:"),
        st.Page("dashboard/book.py", title="Customers and shipments", icon=":material/upload:"),
    ],
}
st.navigation(pages).run()
