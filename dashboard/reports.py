"""Reports: the runbook's common queries and every table, as spreadsheet-safe CSV."""

from __future__ import annotations

import streamlit as st

from dashboard._shared import SEVERITIES, READ_TTL, in_session, read, show_export, show_table
from dashboard._auth import require_identity

require_identity()

# Maximum rows in a download, and rows the page shows without one.
EXPORT_LIMIT = 50_000
PREVIEW_ROWS = 200


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_common(key: str):
    from engine.models.base import utcnow
    from engine.readmodels.runbook import COMMON_QUERIES, decisions_by_severity

    _label, query = COMMON_QUERIES[key]
    if query is decisions_by_severity:
        return in_session(query, utcnow())
    return in_session(query)


def decisions(filters: dict, limit: int):
    from engine.readmodels.decisions import DecisionFilter, search_decisions

    return in_session(search_decisions, DecisionFilter(**filters), limit)


def alerts(statuses: tuple[str, ...], customer: str, limit: int):
    from engine.readmodels.alerts import alert_queue

    return in_session(alert_queue, list(statuses), customer, limit)


def other(kind: str, limit: int):
    from engine.queries import exposure_by_customer
    from engine.readmodels.exposure import exposure_by_chokepoint
    from engine.readmodels.ops import audit_log
    from engine.readmodels.pipeline import recent_runs

    readers = {
        "exposure_by_customer": lambda s: exposure_by_customer(s, limit=limit),
        "exposure_by_chokepoint": lambda s: exposure_by_chokepoint(s).head(limit),
        "pipeline_runs": lambda s: recent_runs(s, limit=limit),
        "audit_log": lambda s: audit_log(s, limit=limit),
    }
    return in_session(readers[kind])


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_decisions(filters: dict):
    return decisions(filters, PREVIEW_ROWS)


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_alerts(statuses: tuple[str, ...], customer: str):
    return alerts(statuses, customer, PREVIEW_ROWS)


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_other(kind: str):
    return other(kind, PREVIEW_ROWS)


def _matches(total: int) -> str:
    """Describe the match count, which search_decisions stops one past COUNT_CAP."""
    from engine.readmodels.decisions import COUNT_CAP

    return f"More than {COUNT_CAP:,} decisions" if total > COUNT_CAP else f"{total:,} decisions"


def common_queries() -> None:
    from engine.readmodels.runbook import COMMON_QUERIES

    st.subheader("The runbook's common queries")
    columns = st.columns(3)
    for column, (key, (label, _query)) in zip(columns, COMMON_QUERIES.items()):
        with column:
            st.markdown(f"**{label}**")
            frame = read(load_common, key, what=label)
            if frame is not None:
                show_table(frame, label.lower(), key, height=260,
                           empty="No decisions yet.")


def decision_export() -> None:
    from engine.geography import chokepoints

    places = chokepoints()
    st.markdown("**Decisions**")
    cols = st.columns(4)
    filters = {
        "statuses": cols[0].multiselect("Status", ["OPEN", "ACKNOWLEDGED", "ACTED", "DISMISSED",
                                                   "SUPERSEDED", "EXPIRED"], key="report_status"),
        "severities": cols[1].multiselect("Severity", SEVERITIES, key="report_severity"),
        "chokepoints": cols[2].multiselect("Chokepoint", list(places), key="report_chokepoint",
                                           format_func=lambda k: places[k].name),
        "actions": [],
        "active_only": cols[3].toggle("Active book only", value=True, key="report_active"),
        "search": st.text_input("Search", key="report_search",
                                placeholder="Decision id, customer id or name, chokepoint"),
    }
    days = st.selectbox("Created in the last (for the whole history)", [7, 30, 90, 365, None],
                        index=1, key="report_days", disabled=filters["active_only"],
                        format_func=lambda d: "all history" if d is None else f"{d} days")
    filters["created_days"] = None if filters["active_only"] else days
    loaded = read(load_decisions, filters, what="The decision export")
    if loaded is not None:
        frame, total = loaded
        st.caption(f"{_matches(total)} match. The table shows the newest {len(frame):,}; "
                   f"the CSV holds the newest {EXPORT_LIMIT:,} at most.")
        show_export(frame, "decisions", "report_decisions",
                    lambda: decisions(filters, EXPORT_LIMIT)[0], height=240)


def alert_export() -> None:
    from engine.readmodels.alerts import STATUSES

    st.markdown("**Alerts**")
    cols = st.columns([3, 1])
    statuses = cols[0].multiselect("Status", list(STATUSES), key="report_alert_status")
    customer = cols[1].text_input("Customer id", key="report_alert_customer")
    frame = read(load_alerts, tuple(statuses), customer, what="The alert export")
    if frame is not None:
        st.caption(f"The table shows the newest {PREVIEW_ROWS:,} matching alerts at most; "
                   f"the CSV holds up to {EXPORT_LIMIT:,}.")
        show_export(frame, "alerts", "report_alerts",
                    lambda: alerts(tuple(statuses), customer, EXPORT_LIMIT), height=240)


st.title("Reports")
st.caption("Every download is CSV in UTF-8. Text cells that start with =, +, - or @ get a "
           "leading apostrophe so that spreadsheets show them instead of running them.")
common_queries()
st.divider()
st.subheader("Tables with filters")
decision_export()
alert_export()
for kind, label in (("exposure_by_customer", "Exposure by customer"),
                    ("exposure_by_chokepoint", "Exposure by chokepoint"),
                    ("pipeline_runs", "Pipeline runs"), ("audit_log", "Audit log")):
    with st.expander(label):
        frame = read(load_other, kind, what=label)
        if frame is not None:
            show_export(frame, label.lower(), f"report_{kind}",
                        lambda kind=kind: other(kind, EXPORT_LIMIT), height=240)
