"""One-click actions that run once, even when clicked twice.

An action moves through ``idle -> confirming -> pending -> running -> done``.
The state lives in a plain object inside session state and is changed by
mutating that object, never by assigning to ``st.session_state``, because each
assignment lets Streamlit stop the script for a queued rerun. A second click
that arrives while the action runs therefore finds it ``running`` or
``done`` and does nothing. On the server, a lock (``engine.oplock``) stops a
second browser tab, dashboard replica or worker from running it too.

Inputs inside a dialog keep the same parameters while the action runs:
Streamlit derives a widget's identity from them, and a changed identity
would drop the value the person typed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from dashboard._shared import describe_failure

log = logging.getLogger(__name__)

OPEN = ("confirming", "pending", "running")


@dataclass
class ActionRun:
    key: str
    status: str = "idle"
    token: str | None = None
    ok: bool = True
    message: str | None = None
    target: str | None = None
    result: object = None


def action(key: str) -> ActionRun:
    return st.session_state.setdefault(f"action:{key}", ActionRun(key))


def open_dialog(key: str, target: str | None = None) -> None:
    run = action(key)
    if run.status in ("idle", "done"):
        run.status, run.token, run.target = "confirming", uuid.uuid4().hex, target
        run.message = None


def confirm(key: str) -> None:
    run = action(key)
    if run.status == "confirming":
        run.status = "pending"


def cancel(key: str) -> None:
    run = action(key)
    if run.status == "confirming":
        run.status, run.token = "idle", None


def busy(key: str) -> bool:
    return action(key).status in ("pending", "running")


def execute(key: str, fn: Callable[[], str | tuple[str, object]],
            expected: tuple[type[BaseException], ...], what: str) -> None:
    """Run a pending action once and keep its one-sentence result.

    ``fn`` returns the message, or the message and a result to keep. It must
    not call Streamlit after its transaction commits: a queued rerun stops the
    script at the next Streamlit call, and before the commit that only rolls
    the transaction back, so the action is marked pending and runs again.
    """
    run = action(key)
    if run.status != "pending":
        return
    run.status = "running"
    try:
        outcome = fn()
        message, run.result = outcome if isinstance(outcome, tuple) else (outcome, None)
        run.ok, run.message = True, message
    except expected as exc:
        text = str(exc)
        run.ok, run.message = False, text[:1].upper() + text[1:]
    except Exception as exc:  # shown as one sentence; details go to the log
        log.warning("dashboard action %s (%s) failed: %s: %s", key, run.token,
                    type(exc).__name__, exc)
        run.ok, run.message = False, describe_failure(exc, what)
    except BaseException:
        # Streamlit stopped the script for a rerun: the transaction rolled back.
        run.status = "pending"
        raise
    run.status = "done"


def finish_if_done(key: str) -> None:
    """Inside a dialog: close it once the action has run."""
    if action(key).status == "done":
        st.rerun()


def flash(key: str) -> None:
    """Show an action's result once, then forget it."""
    run = action(key)
    if run.status != "done" or run.message is None:
        return
    (st.success if run.ok else st.error)(run.message)
    run.status, run.message, run.token = "idle", None, None


def confirm_buttons(key: str, label: str, disabled: bool = False) -> None:
    """Render the dialog's confirm and cancel buttons, both disabled while the action runs."""
    running = busy(key)
    left, right = st.columns(2)
    left.button(label, key=f"confirm_{key}", type="primary", on_click=confirm, args=(key,),
                disabled=running or disabled, width="stretch")
    right.button("Cancel", key=f"cancel_{key}", on_click=cancel, args=(key,),
                 disabled=running, width="stretch")
