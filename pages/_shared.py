"""Helpers every page uses: engine access once per process, and safe reads."""

from __future__ import annotations

import logging

import streamlit as st

log = logging.getLogger(__name__)


@st.cache_resource
def ensure_engine() -> bool:
    """Configure logging and check settings once per process."""
    from engine.logs import configure_logging
    from engine.settings import get_settings

    get_settings()
    configure_logging()
    return True


def read(fn, *args, what: str):
    """Run a read; on failure show one sentence instead of a traceback."""
    try:
        ensure_engine()
        return fn(*args)
    except Exception as exc:  # the page must degrade, never crash
        log.warning("dashboard read of %s failed: %s", what, exc)
        st.error(f"{what} is unavailable right now: the database could not be read. "
                 "It will show again once the database answers.")
        return None
