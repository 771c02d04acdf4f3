"""Send due alerts from the outbox, exactly once per alert.

One run claims a batch (see ``claims``), then for each alert (see ``batch``):

1. If an earlier send may have reached Twilio, look the message up by its
   reference and record it instead of resending.
2. Fence: extend the claim and mark the send as started, but only if this
   dispatcher still holds the claim. A dispatcher that lost its lease stops.
3. Send through the ``twilio`` circuit, then write the idempotency mark in Redis.
4. Record the outcome; outcomes are written in small batches.

A crash after step 3 leaves the Redis mark (or, without Redis, the message at
Twilio) for the next claim to find, so the message is recorded, not resent.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import metrics
from engine.alerting import callbacks, claims, housekeeping
from engine.alerting.batch import Batch
from engine.alerting.channels import build_channel
from engine.db import session_scope
from engine.models import Alert
from engine.models.base import utcnow
from engine.settings import get_settings

log = logging.getLogger(__name__)

OUTCOMES = ("sent", "reconciled", "retry", "failed", "dead", "deferred", "held",
            "superseded", "cancelled", "lost")


def dispatcher_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def dispatch_once(limit: int | None = None, *, clock: Callable[[], datetime] | None = None,
                  channel=None, owner: str | None = None, alert_ids: list[int] | None = None,
                  run_housekeeping: bool = True) -> dict[str, int]:
    """Send one batch of due alerts and return counts by outcome.

    ``clock`` replaces the wall clock for every time this run reads or writes,
    so tests move it instead of sleeping. ``alert_ids`` limits the run to those
    alerts, for example a reply that should go out at once.
    """
    settings = get_settings()
    clock = clock or utcnow
    owner = owner or dispatcher_id()
    channel = channel or build_channel(settings)
    if run_housekeeping:
        housekeeping.run(clock(), settings)

    started = time.perf_counter()
    with session_scope() as session:
        claimed = claims.claim(session, owner, clock, limit or settings.ALERT_BATCH_SIZE,
                               settings, channel.simulated, alert_ids)
    counts = Counter(claimed.counts)
    if claimed.adopted_sids:
        with session_scope() as session:
            callbacks.apply_buffered(session, claimed.adopted_sids, clock(), settings)
    if claimed.jobs:
        Batch(owner, channel, clock, settings, counts).process(claimed.jobs)

    for label, count in counts.items():
        metrics.ALERTS_SENT.labels(outcome=label).inc(count)
    if counts:
        log.info("dispatch %s: %s in %.2fs", owner,
                 ", ".join(f"{counts[k]} {k}" for k in OUTCOMES if counts.get(k)),
                 time.perf_counter() - started)
    return {label: counts.get(label, 0) for label in OUTCOMES}


def queue_depth(session: Session) -> dict[str, int]:
    """Alert counts by status."""
    rows = session.execute(select(Alert.status, func.count()).group_by(Alert.status)).all()
    return {status: count for status, count in rows}
