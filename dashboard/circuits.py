"""Circuits: state and failures of each breaker, history, reset, business impact."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.breakers import SPECS
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
    money,
    operator_note,
    read,
    show_table,
)
from dashboard._auth import require_identity

require_identity()

STATE_BADGES = {"closed": "green", "half-open": "orange", "open": "red"}


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_states() -> pd.DataFrame:
    from engine import breakers
    from engine.readmodels.circuits import transitions_by_circuit

    history = in_session(transitions_by_circuit)
    rows = []
    for name, state in breakers.snapshot().items():
        rows.append({
            "circuit": name, "state": str(state.get("state")),
            "failures": state.get("failure_count"), "fail_max": state.get("fail_max"),
            "reset_timeout_s": state.get("reset_timeout"),
            "times_opened": history.get(name, {}).get("opened", 0),
            "last_change": history.get(name, {}).get("last_change"),
        })
    return pd.DataFrame(rows)


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_history(name: str | None):
    from engine.readmodels.circuits import circuit_history

    return in_session(circuit_history, name)


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_impact(names: tuple[str, ...]) -> dict:
    from engine.readmodels.circuits import impact_while_open

    return {name: in_session(impact_while_open, name) for name in names}


@live
def states() -> None:
    frame = read(load_states, what="The circuit states")
    if frame is None:
        return
    columns = st.columns(len(frame))
    for column, row in zip(columns, frame.itertuples()):
        with column.container(border=True):
            st.markdown(f"**{row.circuit}**")
            state = row.state.lower().replace("_", "-")
            st.badge(row.state.upper(), color=STATE_BADGES.get(state, "gray"))
            st.caption(f"{row.failures} of {row.fail_max} failures; recovers after "
                       f"{row.reset_timeout_s} s; opened {row.times_opened} time(s)")
    impact = read(load_impact, tuple(frame["circuit"]), what="The business impact of open circuits")
    if impact is None:
        return
    st.subheader("Business impact while open")
    st.caption("Decisions generated while a circuit was open or half-open: they were made with "
               "that source missing, so check them first.")
    summary = pd.DataFrame([
        {"circuit": name, "decisions": value["decisions"], "exposure_usd": value["exposure_usd"],
         "expected_loss_usd": value["expected_loss_usd"]}
        for name, value in impact.items()
    ])
    show_table(summary, "impact by circuit", "circuit_impact",
               column_config={"exposure_usd": st.column_config.NumberColumn(format="$%,.0f"),
                              "expected_loss_usd": st.column_config.NumberColumn(format="$%,.0f")})
    affected = [name for name, value in impact.items() if value["decisions"]]
    for name in affected:
        value = impact[name]
        with st.expander(f"{name}: {value['decisions']:,} decisions, "
                         f"{money(value['exposure_usd'])} exposed"):
            show_table(value["latest"], f"decisions made while {name} was open",
                       f"impact_{name}")


@live
def history(name: str | None) -> None:
    frame = read(load_history, name, what="The circuit history")
    if frame is not None:
        show_table(frame, "circuit history", "circuit_history", height=300,
                   empty="No state change was recorded yet.")


def reset(name: str, reason: str) -> str:
    from engine.circuit_actions import reset_circuit

    state = reset_circuit(name, identity().actor, reason)
    load_states.clear()
    load_history.clear()
    shown = state.get("state") if isinstance(state, dict) else state
    return f"The {name} circuit was reset and is now {shown}."


@st.dialog("Reset circuit", on_dismiss=lambda: cancel("reset"))
def reset_dialog() -> None:
    from engine.breakers import UnknownBreakerError
    from engine.circuit_actions import CircuitResetError

    run = action("reset")
    finish_if_done("reset")
    st.write(f"Close the **{run.target}** circuit and clear its failure count? If the service "
             "is still failing, the circuit opens again after its threshold.")
    reason = st.text_input("Reason (kept in the audit log)", key="reset_reason")
    confirm_buttons("reset", "Reset circuit", disabled=not reason.strip())
    if run.status == "pending":
        with st.spinner("Resetting..."):
            execute("reset", lambda: reset(run.target, reason),
                    (CircuitResetError, UnknownBreakerError), "The circuit reset")
        st.rerun()


st.title("Circuit breakers")
states()
st.divider()
left, right = st.columns([1, 2])
with left:
    st.subheader("Reset a circuit")
    chosen = st.selectbox("Circuit", list(SPECS), key="reset_circuit")
    st.button("Reset...", key="reset_button", icon=":material/restart_alt:",
              disabled=not identity().can_act or busy("reset"),
              on_click=open_dialog, args=("reset", chosen))
    flash("reset")
    operator_note()
    st.caption("Same as the runbook's `redis-cli DEL \"circuit:NAME:state\"`, with your reason "
               "recorded.")
with right:
    st.subheader("History")
    shown = st.selectbox("Circuit", ["all"] + list(SPECS), key="history_circuit")
    history(None if shown == "all" else shown)
if action("reset").status in ("confirming", "pending", "running"):
    reset_dialog()
