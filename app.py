"""RISKCAST dashboard entry point: ``streamlit run app.py``."""

import streamlit as st

st.set_page_config(page_title="RISKCAST", page_icon=":ship:", layout="wide")

pages = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/exposure.py", title="Exposure", icon=":material/payments:"),
]
st.navigation(pages).run()
