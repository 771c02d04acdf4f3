"""Maintenance: clean up expired decisions, VACUUM ANALYZE, clear the decision cache."""

from __future__ import annotations

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
    domain_now,
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


def load_preview():
    """Not cached: the dialog must show what the cleanup would remove right now."""
    from engine.decisions.lifecycle import preview_cleanup
    from engine.oplock import is_running

    preview = in_session(preview_cleanup, domain_now())
    running = in_session(is_running, "cleanup")
    return preview, running


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_tables():
    from engine.readmodels.ops import table_stats

    return in_session(table_stats)


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_cache_keys():
    from engine.readmodels.ops import decision_cache_keys

    return decision_cache_keys()


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def load_audit():
    from engine.readmodels.ops import audit_log

    return in_session(audit_log)


def _clear_reads() -> None:
    load_tables.clear()
    load_cache_keys.clear()
    load_audit.clear()


def cleanup(reason: str) -> str:
    from engine.maintenance import run_cleanup

    result = in_session(run_cleanup, domain_now(), identity().actor, reason or None)
    _clear_reads()
    return (f"Cleanup finished: {result.removed:,} expired decisions left the active book, "
            f"{money(result.exposure_usd)} of exposure.")


def vacuum(tables: list[str]) -> str:
    from engine.db import get_engine
    from engine.maintenance import vacuum_analyze

    seconds = vacuum_analyze(get_engine(), tables, identity().actor)
    _clear_reads()
    return f"VACUUM ANALYZE finished on {', '.join(seconds)} in {sum(seconds.values()):.1f} s."


def clear_cache() -> str:
    from engine.maintenance import clear_decision_cache

    result = in_session(clear_decision_cache, identity().actor)
    _clear_reads()
    return f"Deleted {result['deleted']:,} decision cache keys from the {result['store']} cache."


@st.dialog("Clean up expired decisions", on_dismiss=lambda: cancel("cleanup"))
def cleanup_dialog() -> None:
    from engine.maintenance import MaintenanceError
    from engine.oplock import ActionBusyError

    run = action("cleanup")
    finish_if_done("cleanup")
    loaded = read(load_preview, what="The cleanup preview")
    count = loaded[0].removed if loaded else 0
    if loaded:
        st.write(f"**{count:,}** decisions are past `expires_at` at the replay date and will "
                 f"leave the active book, with **{money(loaded[0].exposure_usd)}** of exposure. "
                 "The rows stay (status EXPIRED) so outcomes can be scored later.")
    reason = st.text_input("Reason (optional, kept in the audit log)", key="cleanup_reason")
    confirm_buttons("cleanup", f"Clean up {count:,} decisions",
                    disabled=not loaded or count == 0)
    if run.status == "pending":
        with st.spinner("Cleaning up..."):
            execute("cleanup", lambda: cleanup(reason.strip()),
                    (ActionBusyError, MaintenanceError), "The cleanup")
        st.rerun()


@st.dialog("VACUUM ANALYZE", on_dismiss=lambda: cancel("vacuum"))
def vacuum_dialog() -> None:
    from engine.maintenance import VACUUM_TABLES, MaintenanceError
    from engine.oplock import ActionBusyError

    run = action("vacuum")
    finish_if_done("vacuum")
    st.write("Reclaim dead rows and refresh planner statistics. It does not lock out reads or "
             "writes, but it adds I/O while it runs.")
    tables = st.multiselect("Tables", list(VACUUM_TABLES), default=["decisions"],
                            key="vacuum_tables")
    confirm_buttons("vacuum", "Run VACUUM ANALYZE", disabled=not tables)
    if run.status == "pending":
        with st.spinner("Running VACUUM ANALYZE..."):
            execute("vacuum", lambda: vacuum(tables), (ActionBusyError, MaintenanceError),
                    "VACUUM ANALYZE")
        st.rerun()


@st.dialog("Clear the decision cache", on_dismiss=lambda: cancel("clear_cache"))
def cache_dialog() -> None:
    from engine.maintenance import MaintenanceError
    from engine.oplock import ActionBusyError

    run = action("clear_cache")
    finish_if_done("clear_cache")
    st.write("Delete every `decision:*` key. Readers fall back to the database and refill the "
             "cache; nothing is lost.")
    confirm_buttons("clear_cache", "Clear the cache")
    if run.status == "pending":
        with st.spinner("Clearing..."):
            execute("clear_cache", clear_cache, (ActionBusyError, MaintenanceError),
                    "Clearing the decision cache")
        st.rerun()


def cleanup_card(can_act: bool) -> None:
    with st.container(border=True, height="stretch"):
        st.markdown("#### Clean up expired decisions")
        loaded = read(load_preview, what="The cleanup preview")
        if loaded is None:
            return
        preview, running = loaded
        st.metric("Expired, still in the book", f"{preview.removed:,}",
                  f"{money(preview.exposure_usd)} exposure", delta_color="off", delta_arrow="off")
        if running:
            st.caption(":material/hourglass_top: A cleanup is running right now (another tab, "
                       "dashboard or the worker's daily job).")
        st.button("Clean up...", key="cleanup_button", icon=":material/delete_sweep:",
                  on_click=open_dialog, args=("cleanup",),
                  disabled=not can_act or busy("cleanup") or running or preview.removed == 0)
        flash("cleanup")


def vacuum_card(can_act: bool) -> None:
    from engine.db import get_engine

    postgres = get_engine().dialect.name == "postgresql"
    with st.container(border=True, height="stretch"):
        st.markdown("#### VACUUM ANALYZE")
        st.caption("The worker runs it weekly on `decisions`; run it after a large cleanup."
                   if postgres else "Only for PostgreSQL; this dashboard runs on SQLite.")
        st.button("Run VACUUM ANALYZE...", key="vacuum_button", icon=":material/cleaning_services:",
                  on_click=open_dialog, args=("vacuum",),
                  disabled=not can_act or not postgres or busy("vacuum"))
        flash("vacuum")


def cache_card(can_act: bool) -> None:
    with st.container(border=True, height="stretch"):
        st.markdown("#### Decision cache")
        keys = read(load_cache_keys, what="The decision cache size")
        if keys is not None:
            count, capped = keys
            st.metric("decision:* keys", f"{count:,}{'+' if capped else ''}")
        st.button("Clear the decision cache...", key="cache_button", icon=":material/mop:",
                  on_click=open_dialog, args=("clear_cache",),
                  disabled=not can_act or busy("clear_cache"))
        flash("clear_cache")


@live
def tables_and_audit() -> None:
    st.subheader("Tables")
    tables = read(load_tables, what="The table statistics")
    if tables is not None:
        show_table(tables, "table statistics", "table_stats",
                   empty="Table statistics come from PostgreSQL; this dashboard runs on SQLite.")
    st.subheader("Audit log")
    audit = read(load_audit, what="The audit log")
    if audit is not None:
        show_table(audit, "audit log", "audit_log", height=300,
                   empty="No action has been recorded yet.")


st.title("Maintenance")
can_act = identity().can_act
cols = st.columns(3)
with cols[0]:
    cleanup_card(can_act)
with cols[1]:
    vacuum_card(can_act)
with cols[2]:
    cache_card(can_act)
operator_note()
tables_and_audit()
if action("cleanup").status in ("confirming", "pending", "running"):
    cleanup_dialog()
if action("vacuum").status in ("confirming", "pending", "running"):
    vacuum_dialog()
if action("clear_cache").status in ("confirming", "pending", "running"):
    cache_dialog()
