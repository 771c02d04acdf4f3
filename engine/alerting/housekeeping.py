"""Work every dispatch run does before sending: digests, closing notices, stray callbacks."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from engine.alerting import callbacks, digests, notices
from engine.db import session_scope
from engine.settings import Settings

log = logging.getLogger(__name__)

# The scans for ended decisions and stray callbacks run at most this often.
SCAN_INTERVAL = timedelta(seconds=30)
_last_scan: datetime | None = None


def run(now: datetime, settings: Settings) -> None:
    """Run each step in its own transaction; a failing step is logged and skipped.

    Sending must not stop because a digest or a notice could not be built.
    """
    global _last_scan
    _step("digests", lambda session: digests.build_due(session, now))
    if _last_scan is not None and _last_scan <= now < _last_scan + SCAN_INTERVAL:
        return
    _last_scan = now
    _step("closing notices", lambda session: notices.enqueue_closing_notices(session, now))
    _step("stray callbacks", lambda session: callbacks.apply_orphans(session, now, settings))


def _step(name: str, action) -> None:
    try:
        with session_scope() as session:
            action(session)
    except Exception:  # one failing step must not stop the dispatcher
        log.exception("alert housekeeping step %r failed; dispatch continues", name)
