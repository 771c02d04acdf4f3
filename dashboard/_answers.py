"""The drill-down of one decision: its seven answers and where they came from."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from dashboard._shared import SEVERITY_COLORS, money, show_table

_SEVERITY_BADGE = {"CRITICAL": "red", "HIGH": "orange", "MEDIUM": "yellow", "LOW": "green"}


def _when(value) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return f"{value:%a %d %b %Y %H:%M} UTC"


def header(detail: dict) -> None:
    decision = detail["decision"]
    customer = detail["customer"] or {}
    what = (decision["answers"] or {}).get("what", {})
    st.subheader(f"Decision {decision['id']}: {customer.get('name', decision['customer_id'])} "
                 f"at {what.get('chokepoint_name', decision['chokepoint'])}")
    cols = st.columns([1, 1, 1, 3])
    cols[0].badge(decision["severity"], color=_SEVERITY_BADGE.get(decision["severity"], "gray"))
    cols[1].badge(decision["status"], color="blue")
    cols[2].badge(f"version {decision['version']}", color="gray")
    cols[3].caption(f"Customer {decision['customer_id']}, event {decision['event_key']}, "
                    f"made for {_when(decision['as_of'])}, stored {_when(decision['created_at'])}")


def _what(answers: dict) -> None:
    what = answers.get("what", {})
    st.markdown(f"**{what.get('chokepoint_name', '-')}**: reconciliation "
                f"`{what.get('reconciliation', '-')}` (event `{what.get('event_key', '-')}`)")
    sources = pd.DataFrame(what.get("sources", []))
    show_table(sources, "sources", "answer_sources", empty="No source was recorded.",
               column_config={"url": st.column_config.LinkColumn("link")})


def _when_answer(answers: dict) -> None:
    when = pd.DataFrame(answers.get("when", []))
    st.caption("When each shipment reaches the chokepoint, and the last moment to turn it.")
    show_table(when, "shipment timings", "answer_when", empty="No shipment timing recorded.")


def _how_bad(decision: dict, answers: dict) -> None:
    bad = answers.get("how_bad", {})
    cols = st.columns(4)
    cols[0].metric("Cargo exposed", money(bad.get("exposure_usd", decision["exposure_usd"])))
    cols[1].metric("Expected loss if nothing is done",
                   money(bad.get("expected_loss_usd", decision["expected_loss_usd"])))
    cols[2].metric("Probability", f"{bad.get('probability', decision['probability']):.0%}")
    severity = bad.get("severity", decision["severity"])
    cols[3].markdown(f"Severity<br><span style='font-size:1.6rem;color:"
                     f"{SEVERITY_COLORS.get(severity, '#333')}'>{severity}</span>",
                     unsafe_allow_html=True)


def _why(answers: dict) -> None:
    why = answers.get("why", {})
    cols = st.columns(4)
    probability = why.get("signal_probability")
    cols[0].metric("Signal probability", "-" if probability is None else f"{probability:.0%}")
    transit = why.get("transit_change_pct")
    cols[1].metric("Transits vs baseline", "-" if transit is None else f"{transit:+.1f} %")
    rate = why.get("rate_change_pct")
    cols[2].metric("Freight rate vs baseline", "-" if rate is None else f"{rate:+.1f} %")
    cols[3].metric("Rate premium", f"{why.get('rate_premium_usd_teu', 0):,.0f} USD/TEU")
    st.caption(f"Reconciliation: {why.get('reconciliation', '-')}. The inputs and their ages "
               "are listed under provenance below.")


def _what_to_do(answers: dict) -> None:
    todo = answers.get("what_to_do", {})
    cols = st.columns(3)
    cols[0].metric("Recommended", todo.get("recommended", "-"))
    cols[1].metric("Cost", money(todo.get("cost_usd")))
    cols[2].metric("Expected saving", money(todo.get("net_benefit_usd")))
    show_table(pd.DataFrame(todo.get("alternatives", [])), "alternatives", "answer_alternatives",
               empty="No alternatives were recorded.",
               column_config={"cost_usd": st.column_config.NumberColumn(format="$%,.0f"),
                              "net_benefit_usd": st.column_config.NumberColumn(format="$%,.0f")})


def _by_when(answers: dict, now: datetime) -> None:
    deadline = answers.get("by_when")
    if not deadline:
        st.info("No deadline: the recommended action can be taken at any time.")
        return
    moment = datetime.fromisoformat(deadline)
    hours = (moment - now).total_seconds() / 3600
    st.metric("Act by", _when(moment),
              f"{hours:,.0f} h after the replay date" if hours >= 0 else "deadline has passed",
              delta_color="off" if hours >= 0 else "inverse")


def _confidence(decision: dict, answers: dict) -> None:
    confidence = answers.get("confidence", {})
    st.metric("Confidence", f"{confidence.get('value', decision['confidence']):.0%}")
    for reason in confidence.get("reasons", []):
        st.markdown(f"- {reason}")
    waiting = confidence.get("cost_of_waiting_usd", {})
    if waiting:
        st.caption("Expected saving lost if the customer waits:")
        frame = pd.DataFrame({"wait": list(waiting), "saving_lost_usd": list(waiting.values())})
        show_table(frame, "cost of waiting", "answer_waiting",
                   column_config={"saving_lost_usd": st.column_config.NumberColumn(
                       format="$%,.0f")})


def seven_answers(detail: dict, now: datetime) -> None:
    decision = detail["decision"]
    answers = decision["answers"] or {}
    tabs = st.tabs(["1 What", "2 When", "3 How bad", "4 Why", "5 What to do", "6 By when",
                    "7 Confidence"])
    with tabs[0]:
        _what(answers)
    with tabs[1]:
        _when_answer(answers)
    with tabs[2]:
        _how_bad(decision, answers)
    with tabs[3]:
        _why(answers)
    with tabs[4]:
        _what_to_do(answers)
    with tabs[5]:
        _by_when(answers, now)
    with tabs[6]:
        _confidence(decision, answers)


def provenance(detail: dict) -> None:
    decision = detail["decision"]
    prov = decision["provenance"] or {}
    with st.expander("Provenance: inputs, circuits, alerts and versions", expanded=True):
        st.markdown("**Signals** (OMEN)")
        show_table(detail["signals"], "signals", "provenance_signals",
                   empty="No signal was recorded for this decision.",
                   column_config={"url": st.column_config.LinkColumn("link")})
        st.markdown("**Observations** (ORACLE)")
        show_table(detail["observations"], "observations", "provenance_observations",
                   empty="No observation was recorded for this decision.")
        circuits = prov.get("circuits", {})
        if circuits:
            st.markdown("**Circuits when the decision was made:** " + ", ".join(
                f"{name} {state}" for name, state in sorted(circuits.items())))
        st.markdown("**Alerts**")
        show_table(detail["alerts"], "alerts of this decision", "decision_alerts",
                   empty="No alert was queued (the customer's minimum severity may be higher).")
        st.markdown("**Versions** of this customer and event")
        show_table(detail["versions"], "versions", "decision_versions")
        st.json(prov, expanded=False)
