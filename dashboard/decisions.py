"""Decisions: filters and search, the seven answers with provenance, acknowledge, dismiss."""

from __future__ import annotations

import streamlit as st

from dashboard import _answers
from dashboard._actions import (
    action,
    busy,
    cancel,
    confirm,
    confirm_buttons,
    execute,
    finish_if_done,
    flash,
    open_dialog,
)
from dashboard._shared import (
    READ_TTL,
    SEVERITIES,
    domain_now,
    identity,
    in_session,
    live,
    operator_note,
    read,
    show_table,
)
from dashboard._auth import require_identity

require_identity()

PAGE_SIZE = 100
STATUSES = ["OPEN", "ACKNOWLEDGED", "ACTED", "DISMISSED", "SUPERSEDED", "EXPIRED"]
ACTIONS = ["REROUTE", "DELAY", "INSURE", "MONITOR", "DO_NOTHING"]


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_decisions(filters: dict, page: int):
    from engine.readmodels.decisions import DecisionFilter, search_decisions

    return in_session(search_decisions, DecisionFilter(**filters), PAGE_SIZE, page * PAGE_SIZE)


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_detail(decision_id: int):
    from engine.readmodels.decisions import decision_detail

    return in_session(decision_detail, decision_id)


def filters() -> dict:
    from engine.geography import chokepoints

    places = chokepoints()
    with st.container(border=True):
        top = st.columns([3, 1, 1])
        search = top[0].text_input(
            "Search", key="decision_search",
            placeholder="Decision id, customer id or name, chokepoint, action")
        active = top[1].toggle("Active book only", value=True, key="decision_active")
        days = top[2].selectbox("Created in the last", [7, 30, 90, 365, None], index=1,
                                key="decision_days", disabled=active,
                                format_func=lambda d: "all history" if d is None else f"{d} days")
        cols = st.columns(4)
        statuses = cols[0].multiselect("Status", STATUSES, key="decision_status")
        severities = cols[1].multiselect("Severity", SEVERITIES, key="decision_severity")
        where = cols[2].multiselect("Chokepoint", list(places), key="decision_chokepoint",
                                    format_func=lambda k: places[k].name)
        actions = cols[3].multiselect("Recommended action", ACTIONS, key="decision_action")
    return {"statuses": statuses, "severities": severities, "chokepoints": where,
            "actions": actions, "active_only": active, "search": search,
            "created_days": None if active else days}


def _remember_selection() -> None:
    state = st.session_state.get("decision_table")
    ids = st.session_state.get("decision_ids_shown", [])
    rows = state.selection.rows if state is not None else []
    if rows and rows[0] < len(ids):
        st.session_state["decision_id"] = ids[rows[0]]
        st.session_state["decision_selection_changed"] = True


@live
def decision_list(current: dict) -> None:
    if st.session_state.pop("decision_selection_changed", False):
        st.rerun(scope="app")
    page = st.session_state.get("decision_page", 0)
    loaded = read(load_decisions, current, page, what="The decision list")
    if loaded is None:
        return
    from engine.readmodels.decisions import COUNT_CAP

    frame, total = loaded
    pages = max(1, -(-min(total, COUNT_CAP) // PAGE_SIZE))
    shown = f"More than {COUNT_CAP:,}" if total > COUNT_CAP else f"{total:,}"
    st.caption(f"{shown} matching decisions; page {min(page, pages - 1) + 1} of {pages}, "
               "newest first. Select a row to open it.")
    st.session_state["decision_ids_shown"] = frame["id"].tolist()
    pager(page, pages)
    show_table(frame, "decisions (this page)", "decision_table", height=360,
               on_select=_remember_selection, selection_mode="single-row",
               empty="No decision matches these filters.",
               column_config={
                   "exposure_usd": st.column_config.NumberColumn(format="$%,.0f"),
                   "expected_loss_usd": st.column_config.NumberColumn(format="$%,.0f"),
                   "confidence": st.column_config.ProgressColumn(min_value=0, max_value=1,
                                                                 format="percent"),
               })


def _turn(step: int) -> None:
    st.session_state["decision_page"] = max(0, st.session_state.get("decision_page", 0) + step)


def pager(page: int, pages: int) -> None:
    cols = st.columns([1, 1, 6])
    cols[0].button("Previous page", disabled=page == 0, key="decision_prev", on_click=_turn,
                   args=(-1,))
    cols[1].button("Next page", disabled=page + 1 >= pages, key="decision_next",
                   on_click=_turn, args=(1,))


def set_status(decision_id: int, status: str, reason: str | None) -> str:
    from engine.decisions.lifecycle import set_status as engine_set_status

    actor = identity().actor

    def change(session):
        return engine_set_status(session, decision_id, status, actor, reason).status

    new_status = in_session(change)
    load_detail.clear()
    load_decisions.clear()
    return f"Decision {decision_id} is now {new_status}."


@st.dialog("Dismiss decision", on_dismiss=lambda: cancel("dismiss"))
def dismiss_dialog() -> None:
    from engine.decisions.lifecycle import DecisionNotFoundError, TransitionError

    run = action("dismiss")
    finish_if_done("dismiss")
    st.write(f"Dismiss decision **{run.target}**? The customer's alert stays as sent; the "
             "decision leaves the list of open work.")
    reason = st.text_input("Reason (kept in the audit log)", key="dismiss_reason")
    confirm_buttons("dismiss", "Dismiss decision", disabled=not reason.strip())
    if run.status == "pending":
        with st.spinner("Dismissing..."):
            execute("dismiss", lambda: set_status(int(run.target), "DISMISSED", reason.strip()),
                    (DecisionNotFoundError, TransitionError), "Dismissing the decision")
        st.rerun()


def _acknowledge(decision_id: int) -> None:
    # Acknowledging changes nothing for the customer, so it needs no dialog.
    open_dialog("acknowledge", str(decision_id))
    confirm("acknowledge")


def actions(decision: dict) -> None:
    from engine.decisions.lifecycle import DecisionNotFoundError, TransitionError

    can_act = identity().can_act
    open_now = decision["status"] in ("OPEN", "ACKNOWLEDGED") and not decision["is_expired"]
    cols = st.columns([1, 1, 4])
    cols[0].button("Acknowledge", key="acknowledge_button", icon=":material/done:",
                   disabled=not can_act or decision["status"] != "OPEN" or busy("acknowledge"),
                   on_click=_acknowledge, args=(decision["id"],))
    cols[1].button("Dismiss...", key="dismiss_button", icon=":material/block:",
                   disabled=not can_act or not open_now or busy("dismiss"),
                   on_click=open_dialog, args=("dismiss", str(decision["id"])))
    if action("acknowledge").status == "pending":
        target = int(action("acknowledge").target)
        execute("acknowledge", lambda: set_status(target, "ACKNOWLEDGED", None),
                (DecisionNotFoundError, TransitionError), "Acknowledging the decision")
    flash("acknowledge")
    flash("dismiss")
    operator_note()


def drill_down() -> None:
    decision_id = st.session_state.get("decision_id")
    if decision_id is None:
        st.info("Select a decision in the list to see its seven answers.")
        return
    detail = read(load_detail, int(decision_id), what=f"Decision {decision_id}")
    if detail is None:
        return
    if not detail:
        st.warning(f"Decision {decision_id} was not found; it may have been removed.")
        return
    _answers.header(detail)
    actions(detail["decision"])
    now = read(domain_now, what="The replay date")
    _answers.seven_answers(detail, now or detail["decision"]["as_of"])
    _answers.provenance(detail)


st.title("Decisions")
linked = st.query_params.get("decision")
if linked and linked.isdigit() and "decision_linked" not in st.session_state:
    # A link such as ?decision=123 opens that decision once.
    st.session_state["decision_linked"] = True
    st.session_state["decision_id"] = int(linked)
current = filters()
if st.session_state.get("decision_filters") != current:
    st.session_state["decision_filters"] = current
    st.session_state["decision_page"] = 0
decision_list(current)
st.divider()
drill_down()
if action("dismiss").status in ("confirming", "pending", "running"):
    dismiss_dialog()
