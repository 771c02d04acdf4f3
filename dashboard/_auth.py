"""Sign-in gate that app.py and every page run first; see engine.auth for the roles."""

from __future__ import annotations

import logging

import streamlit as st

from engine.auth import (
    Identity,
    SignInError,
    SignInThrottle,
    auth_mode,
    role_for_email,
    sign_in_with_password,
    unauthenticated_identity,
)
from dashboard._shared import settings

log = logging.getLogger(__name__)


@st.cache_resource
def throttle() -> SignInThrottle:
    return SignInThrottle()


def oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml at all
        return False


def _client() -> str:
    try:
        return st.context.ip_address or "unknown"
    except Exception:
        return "unknown"


def _password_form() -> None:
    st.title("RISKCAST operations")
    st.caption("Sign in with the dashboard password. Your name goes into the audit "
               "log with every action you take.")
    with st.form("sign_in", width=420):
        name = st.text_input("Your name", key="sign_in_name")
        password = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    client = _client()
    try:
        throttle().check(client)
        identity = sign_in_with_password(settings(), name, password)
    except SignInError as exc:
        if "Wrong password" in str(exc):
            throttle().failed(client)
            log.warning("dashboard sign-in failed for %r from %s", name[:64], client)
        st.error(str(exc))
        return
    throttle().succeeded(client)
    log.info("dashboard sign-in by %s as %s", identity.name, identity.role)
    st.session_state["identity"] = identity
    st.rerun()


def _stop_on_invalid_settings() -> None:
    from engine.settings import SettingsError, get_settings

    try:
        get_settings()
    except SettingsError as exc:
        log.error("configuration error: %s", exc)
        st.error(f"The dashboard cannot start: {exc}. Fix that environment variable and "
                 "restart the dashboard.")
        st.stop()


def require_identity() -> Identity:
    """Return who is using the dashboard; show the sign-in page and stop if nobody is.

    app.py calls it before any page, and every page calls it again, so a
    page stays closed even if it is ever run without app.py.
    """
    _stop_on_invalid_settings()
    mode = auth_mode(settings(), oidc_configured())
    if mode == "oidc":
        if not st.user.is_logged_in:
            st.title("RISKCAST operations")
            st.button("Sign in", type="primary", on_click=st.login)
            st.stop()
        email = st.user.get("email")
        identity = Identity(str(email or st.user.get("name") or "unknown"),
                            role_for_email(settings(), email), "oidc")
    elif mode == "password":
        identity = st.session_state.get("identity")
        if identity is None:
            _password_form()
            st.stop()
    else:
        identity = unauthenticated_identity(mode)
    st.session_state["identity"] = identity
    return identity


def sign_out() -> None:
    if st.session_state.get("identity") and st.session_state["identity"].method == "oidc":
        st.logout()
    st.session_state.pop("identity", None)


def sidebar(identity: Identity) -> None:
    with st.sidebar:
        role = "operator" if identity.can_act else "viewer"
        if identity.method == "open":
            st.caption(":material/warning: No sign-in is configured: everyone is an operator "
                       "(development only).")
        elif identity.method == "read-only":
            st.caption(":material/lock: No sign-in is configured outside development, so the "
                       "dashboard is read-only. Set DASHBOARD_OPERATOR_PASSWORD to act.")
        else:
            st.caption(f"Signed in as **{identity.name}** ({role})")
            st.button("Sign out", on_click=sign_out, key="sign_out")
        st.toggle("Auto-refresh", value=True, key="auto_refresh",
                  help=f"Re-read the data every {settings().DASHBOARD_REFRESH_SECONDS} s.")
