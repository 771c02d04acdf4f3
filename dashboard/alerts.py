"""Alerts: the queue by status, failures with their error codes, retry, cancel."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard._actions import (
    action,
    busy,
    cancel,
    confirm_buttons,
    execute,
    finish_if_done,
    flash,
    open_dialog,
)
from dashboard._shared import (
    READ_TTL,
    identity,
    in_session,
    live,
    operator_note,
    read,
    show_table,
)
from dashboard._auth import require_identity

require_identity()

STATUS_COLORS = {"PENDING": "#90a4ae", "SENDING": "#42a5f5", "SENT": "#66bb6a",
                 "DELIVERED": "#2e7d32", "READ": "#1b5e20", "FAILED": "#e53935",
                 "DEAD": "#b71c1c", "CANCELLED": "#757575", "SUPERSEDED": "#bdbdbd"}


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_counts():
    from engine.readmodels.alerts import alerts_by_status, failures_by_code

    return in_session(alerts_by_status), in_session(failures_by_code)


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_queue(statuses: tuple[str, ...], customer: str):
    from engine.readmodels.alerts import alert_queue

    return in_session(alert_queue, list(statuses), customer)


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_alert(alert_id: int):
    from engine.readmodels.alerts import alert_detail

    return in_session(alert_detail, alert_id)


def _remember_selection() -> None:
    state = st.session_state.get("alert_table")
    ids = st.session_state.get("alert_ids_shown", [])
    rows = state.selection.rows if state is not None else []
    if rows and rows[0] < len(ids):
        st.session_state["alert_id"] = ids[rows[0]]
        st.session_state["alert_selection_changed"] = True


@live
def summary() -> None:
    loaded = read(load_counts, what="The alert queue")
    if loaded is None:
        return
    counts, failures = loaded
    if not counts:
        st.info("No alerts yet: they are queued when a decision reaches a customer's "
                "minimum severity.")
        return
    left, right = st.columns([3, 2])
    with left:
        chart = px.bar(x=list(counts), y=list(counts.values()), color=list(counts),
                       color_discrete_map=STATUS_COLORS, labels={"x": "", "y": "Alerts"})
        chart.update_layout(showlegend=False, height=260, margin={"t": 10, "b": 10})
        st.plotly_chart(chart, width="stretch", key="alert_status_chart")
    with right:
        st.markdown("**Failures by error code**")
        show_table(failures, "failures by error code", "alert_failures", height=220,
                   empty="No failed alerts.")


@live
def queue(statuses: list[str], customer: str) -> None:
    if st.session_state.pop("alert_selection_changed", False):
        st.rerun(scope="app")
    frame = read(load_queue, tuple(statuses), customer, what="The alert queue")
    if frame is None:
        return
    st.session_state["alert_ids_shown"] = frame["id"].tolist()
    st.caption(f"Newest {len(frame):,} alerts matching the filters. Select a row to see the "
               "message.")
    show_table(frame, "alert queue", "alert_table", height=340, on_select=_remember_selection,
               selection_mode="single-row", empty="No alert matches these filters.")


def retry_or_cancel(kind: str, alert_id: int) -> str:
    from engine.alerting.admin import cancel_alert, retry_alert

    operation = retry_alert if kind == "retry" else cancel_alert
    actor = identity().actor
    status = in_session(lambda s: operation(s, alert_id, actor).status)
    load_alert.clear()
    load_queue.clear()
    load_counts.clear()
    verb = "queued again" if kind == "retry" else "cancelled"
    return f"Alert {alert_id} {verb}; it is now {status}."


def _dialog_body(kind: str) -> None:
    from engine.alerting.admin import AlertActionError

    run = action(kind)
    finish_if_done(kind)
    if kind == "retry":
        st.write(f"Send alert **{run.target}** again? The dispatcher picks it up within seconds; "
                 "its idempotency key still prevents a second message to the same recipient.")
    else:
        st.write(f"Cancel alert **{run.target}**? It will not be sent.")
    confirm_buttons(kind, "Retry alert" if kind == "retry" else "Cancel alert")
    if run.status == "pending":
        with st.spinner("Working..."):
            execute(kind, lambda: retry_or_cancel(kind, int(run.target)), (AlertActionError,),
                    f"The {kind} of the alert")
        st.rerun()


@st.dialog("Retry alert", on_dismiss=lambda: cancel("retry"))
def retry_dialog() -> None:
    _dialog_body("retry")


@st.dialog("Cancel alert", on_dismiss=lambda: cancel("cancel"))
def cancel_dialog() -> None:
    _dialog_body("cancel")


def detail() -> None:
    from engine.alerting.admin import CANCELLABLE, RETRYABLE

    alert_id = st.session_state.get("alert_id")
    if alert_id is None:
        st.info("Select an alert to see the rendered message.")
        return
    alert = read(load_alert, int(alert_id), what=f"Alert {alert_id}")
    if not alert:
        return
    st.subheader(f"Alert {alert['id']} to {alert['recipient']}")
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Rendered message**")
        with st.chat_message("assistant", avatar=":material/sms:"):
            st.text(alert["body"])
        if alert.get("content_sid"):
            st.caption(f"Sent as approved template {alert['content_sid']} with variables "
                       f"{alert.get('content_variables')}")
    with right:
        st.markdown(f"Status **{alert['status']}**, {alert['attempts']} attempt(s), "
                    f"urgency {alert['urgency']}, decision {alert['decision_id']} "
                    f"(version {alert['decision_version']})")
        if alert.get("last_error_code"):
            st.error(f"Error {alert['last_error_code']}: {alert.get('last_error_message') or ''}"
                     + (f" {alert['error_meaning']}" if alert.get("error_meaning") else ""))
        st.caption(f"Twilio SID {alert.get('twilio_sid') or '-'}; "
                   f"{'simulated' if alert.get('simulated') else 'real'} send; "
                   f"idempotency key {alert['idempotency_key']}")
        can_act = identity().can_act
        cols = st.columns(2)
        cols[0].button("Retry...", key="retry_button", icon=":material/replay:",
                       disabled=not can_act or alert["status"] not in RETRYABLE or busy("retry"),
                       on_click=open_dialog, args=("retry", str(alert["id"])))
        cols[1].button("Cancel alert...", key="cancel_button", icon=":material/cancel:",
                       disabled=not can_act or alert["status"] not in CANCELLABLE
                       or busy("cancel"),
                       on_click=open_dialog, args=("cancel", str(alert["id"])))
        flash("retry")
        flash("cancel")
        operator_note()


st.title("Alerts")
linked = st.query_params.get("alert")
if linked and linked.isdigit() and "alert_linked" not in st.session_state:
    st.session_state["alert_linked"] = True
    st.session_state["alert_id"] = int(linked)
summary()
with st.container(border=True):
    from engine.readmodels.alerts import STATUSES

    cols = st.columns([3, 1])
    chosen = cols[0].multiselect("Status", list(STATUSES), key="alert_status")
    customer = cols[1].text_input("Customer id", key="alert_customer")
queue(chosen, customer)
st.divider()
detail()
if action("retry").status in ("confirming", "pending", "running"):
    retry_dialog()
if action("cancel").status in ("confirming", "pending", "running"):
    cancel_dialog()
