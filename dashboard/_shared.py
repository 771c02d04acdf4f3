"""Helpers every page uses: engine set-up once per process, safe reads, tables."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import pandas as pd
import streamlit as st

log = logging.getLogger(__name__)

# Seconds a cached read stays fresh; auto-refresh re-reads after this.
READ_TTL = 10
SEVERITY_COLORS = {"CRITICAL": "#b71c1c", "HIGH": "#ef6c00", "MEDIUM": "#f9a825",
                   "LOW": "#2e7d32"}
SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW"]


@st.cache_resource
def ensure_engine() -> bool:
    """Configure logging and check settings once per process."""
    from engine.logs import configure_logging
    from engine.settings import get_settings

    get_settings()
    configure_logging()
    return True


def settings():
    from engine.settings import get_settings

    ensure_engine()
    return get_settings()


def in_session(fn: Callable, *args, **kwargs):
    """Call ``fn(session, *args)`` in a fresh transaction."""
    from engine.db import session_scope

    ensure_engine()
    with session_scope() as session:
        return fn(session, *args, **kwargs)


def describe_failure(exc: BaseException, what: str) -> str:
    """Describe in one sentence which dependency failed, without a traceback."""
    import redis
    from sqlalchemy.exc import InterfaceError, OperationalError

    from engine.db import DatabaseBusyError

    if isinstance(exc, DatabaseBusyError):
        return (f"{what} is unavailable: the database is busy (every pooled connection is "
                "in use). It will show again shortly.")
    if isinstance(exc, (OperationalError, InterfaceError)):
        return (f"{what} is unavailable: the database is not answering. It will show again "
                "once the database is back.")
    if isinstance(exc, redis.RedisError):
        return (f"{what} is unavailable: Redis is not answering. The rest of the dashboard "
                "still works.")
    return (f"{what} could not be shown ({type(exc).__name__}). The dashboard's log has "
            "the details.")


def read(fn: Callable, *args, what: str):
    """Run a read; on failure show one sentence instead of a traceback."""
    try:
        ensure_engine()
        return fn(*args)
    except Exception as exc:  # shown as one sentence; the log keeps the details
        log.warning("dashboard read of %s failed: %s: %s", what, type(exc).__name__, exc)
        st.error(describe_failure(exc, what))
        return None


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def domain_now() -> datetime:
    from engine.clock import domain_now as engine_domain_now

    return in_session(lambda s: engine_domain_now(s, settings()))


def show_table(data: pd.DataFrame, name: str, key: str, *, height: int | str = "auto",
               column_config: dict | None = None, empty: str = "Nothing to show.",
               **dataframe_args):
    """Show a table with a spreadsheet-safe CSV download of exactly these rows."""
    from engine.reports import to_csv

    if data is None or data.empty:
        st.info(empty)
        return None
    shown = st.dataframe(data, hide_index=True, height=height, column_config=column_config,
                         key=key, **dataframe_args)
    st.download_button(
        f"Download {name} as CSV", to_csv(data), file_name=f"riskcast_{key}.csv",
        mime="text/csv", key=f"download_{key}", icon=":material/download:",
        on_click="ignore",
    )
    return shown


def show_export(preview: pd.DataFrame, name: str, key: str,
                export: Callable[[], pd.DataFrame], *, height: int | str = "auto",
                empty: str = "Nothing to show."):
    """Show the first rows of a report; its whole CSV is built when someone downloads it.

    A report can hold tens of thousands of rows. Reading and rendering them
    on every visit would make the page slow for people who only look, so the
    download button calls ``export`` on click instead. ``export`` runs
    outside the page's script and must not call Streamlit.
    """
    from engine.reports import to_csv

    if preview is None or preview.empty:
        st.info(empty)
        return None
    table = st.dataframe(preview, hide_index=True, height=height, key=key)
    st.download_button(
        f"Download {name} as CSV", lambda: to_csv(export()), file_name=f"riskcast_{key}.csv",
        mime="text/csv", key=f"download_{key}", icon=":material/download:",
        on_click="ignore",
    )
    return table


def money(amount: float | None) -> str:
    if amount is None or pd.isna(amount):
        return "-"
    if abs(amount) >= 1_000_000:
        return f"${amount / 1_000_000:,.1f}M"
    if abs(amount) >= 1_000:
        return f"${amount / 1_000:,.0f}k"
    return f"${amount:,.0f}"


def refresh_interval() -> float | None:
    """Seconds between fragment reruns, or None when auto-refresh is off."""
    seconds = settings().DASHBOARD_REFRESH_SECONDS
    if not seconds or not st.session_state.get("auto_refresh", True):
        return None
    return float(seconds)


def live(fn: Callable) -> Callable:
    """Rerun ``fn`` every refresh interval as a fragment, keeping widget state."""
    return st.fragment(run_every=refresh_interval())(fn)


def identity():
    from engine.auth import unauthenticated_identity

    return st.session_state.get("identity") or unauthenticated_identity("read-only")


def operator_note() -> None:
    if not identity().can_act:
        st.caption(":material/lock: You are signed in as a viewer: actions are disabled.")
