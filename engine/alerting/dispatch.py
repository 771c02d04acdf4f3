"""Send due alerts from the outbox, exactly once per alert.

One run claims a batch (see ``claims``), then for each alert:

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
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from engine import metrics
from engine.alerting import callbacks, claims, events, housekeeping, idempotency, outbox
from engine.alerting import outcomes, windows
from engine.alerting.channels import OutboundMessage, build_channel
from engine.alerting.circuit import CircuitOpenError, guarded, reset_timeout
from engine.alerting.claims import Job
from engine.alerting.errors import DeliveryError, ErrorKind
from engine.alerting.outcomes import Outcome
from engine.db import get_engine, session_scope
from engine.models import Alert
from engine.models.base import utcnow
from engine.settings import Settings, get_settings

log = logging.getLogger(__name__)

OUTCOMES = ("sent", "reconciled", "retry", "failed", "dead", "deferred", "held",
            "superseded", "cancelled", "lost")
# Outcomes are written after this many alerts or this many seconds, whichever first.
FLUSH_EVERY = 50
FLUSH_SECONDS = 1.0


def dispatcher_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def dispatch_once(limit: int | None = None, *, clock: Callable[[], datetime] | None = None,
                  channel=None, owner: str | None = None, alert_ids: list[int] | None = None,
                  run_housekeeping: bool = True) -> dict[str, int]:
    """Send one batch of due alerts; return counts by outcome.

    ``clock`` replaces the wall clock for every time this run reads or writes
    (tests move it instead of sleeping); ``alert_ids`` limits the run to those
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
        claimed = claims.claim(session, owner, clock(), limit or settings.ALERT_BATCH_SIZE,
                               settings, channel.simulated, alert_ids)
    counts = Counter(claimed.counts)
    if claimed.adopted_sids:
        with session_scope() as session:
            callbacks.apply_buffered(session, claimed.adopted_sids, clock(), settings)
    if claimed.jobs:
        _Run(owner, channel, clock, settings, counts).process(claimed.jobs)

    for label, count in counts.items():
        metrics.ALERTS_SENT.labels(outcome=label).inc(count)
    if counts:
        log.info("dispatch %s: %s in %.2fs", owner,
                 ", ".join(f"{counts[k]} {k}" for k in OUTCOMES if counts.get(k)),
                 time.perf_counter() - started)
    return {label: counts.get(label, 0) for label in OUTCOMES}


class _Run:
    def __init__(self, owner: str, channel, clock: Callable[[], datetime], settings: Settings,
                 counts: Counter) -> None:
        self.owner = owner
        self.channel = channel
        self.clock = clock
        self.settings = settings
        self.counts = counts
        self.pending: list[Outcome] = []
        self.flushed_at = time.monotonic()
        self.lease_renewed_at = clock()
        # When set, Twilio asked us to stop (rate limit) or the circuit is open.
        self.pause_until: datetime | None = None
        self.pause_reason = ""

    def process(self, jobs: list[Job]) -> None:
        try:
            for index, job in enumerate(jobs):
                if self.pause_until is not None:
                    self._release(jobs[index:])
                    break
                self._renew_lease(jobs[index:])
                self._handle(job)
                if (len(self.pending) >= FLUSH_EVERY
                        or time.monotonic() - self.flushed_at >= FLUSH_SECONDS):
                    self._flush()
        finally:
            self._flush()

    def _handle(self, job: Job) -> None:
        if job.reconcile_since is not None and self._found_earlier(job):
            return
        now = self.clock()
        if not self._fence(job, now):
            self.counts["lost"] += 1
            log.warning("alert %s: claim lost to another dispatcher before sending; skipped",
                        job.alert_id)
            return
        message = OutboundMessage(
            alert_id=job.alert_id, recipient=job.recipient, reference=job.reference,
            idempotency_key=job.idempotency_key, body=job.body,
            content_sid=job.content_sid, content_variables=job.content_variables,
        )
        try:
            result = guarded(self.channel.send, message)
        except CircuitOpenError as exc:
            self._pause(now + timedelta(seconds=reset_timeout()), str(exc))
            self.pending.append(outcomes.released(job, self.pause_until, now, str(exc),
                                                  fenced=True))
            return
        except DeliveryError as exc:
            self._refused(job, exc)
            return
        idempotency.mark_accepted(job.idempotency_key, result.sid)
        self.pending.append(outcomes.accepted(job, result, self.clock(), "dispatch"))

    def _found_earlier(self, job: Job) -> bool:
        """Look up a send that may have reached Twilio; True when the job is settled."""
        now = self.clock()
        try:
            found = guarded(self.channel.find_sent, job.recipient, job.reference,
                            job.reconcile_since)
        except CircuitOpenError as exc:
            self._pause(now + timedelta(seconds=reset_timeout()), str(exc))
            self.pending.append(outcomes.released(job, self.pause_until, now, str(exc)))
            return True
        except DeliveryError as exc:
            log.warning("alert %s: looking up the earlier send failed (%s); will retry",
                        job.alert_id, exc)
            self.pending.append(outcomes.lookup_failed(job, exc, now, self.settings))
            return True
        if found is None:
            log.info("alert %s: earlier send never reached Twilio; sending now", job.alert_id)
            return False
        idempotency.mark_accepted(job.idempotency_key, found.sid)
        log.info("alert %s: earlier send was accepted as %s; recorded, not resent",
                 job.alert_id, found.sid)
        self.pending.append(outcomes.accepted(job, found, now, "reconcile"))
        return True

    def _refused(self, job: Job, exc: DeliveryError) -> None:
        now = self.clock()
        outcome = outcomes.refused(job, exc, now, self.settings)
        self.pending.append(outcome)
        if exc.kind == ErrorKind.RATE_LIMITED:
            metrics.TWILIO_RATE_LIMITED.inc()
            self._pause(outcome.values["next_attempt_at"], f"Twilio rate limit ({exc.code})")
        level = logging.ERROR if outcome.label in ("failed", "dead") else logging.WARNING
        log.log(level, "alert %s to %s: %s -> %s", job.alert_id, job.recipient, exc,
                outcome.values["status"])

    def _pause(self, until: datetime, reason: str) -> None:
        self.pause_until = until
        self.pause_reason = reason
        log.warning("dispatch %s pauses until %s: %s", self.owner, until.isoformat(), reason)

    def _release(self, jobs: list[Job]) -> None:
        now = self.clock()
        for job in jobs:
            self.pending.append(outcomes.released(job, self.pause_until, now, self.pause_reason))

    def _fence(self, job: Job, now: datetime) -> bool:
        """Mark the send as started if this dispatcher still holds the claim."""
        hold = self.settings.TWILIO_TIMEOUT_SECONDS + self.settings.ALERT_RECONCILE_GRACE_SECONDS
        table = Alert.__table__
        statement = (
            update(table)
            .where(table.c.id == job.alert_id, table.c.claimed_by == self.owner,
                   table.c.status == "SENDING", table.c.claimed_until > now)
            .values(send_started_at=func.coalesce(table.c.send_started_at, now),
                    claimed_until=now + timedelta(seconds=max(
                        hold, self.settings.ALERT_CLAIM_SECONDS)),
                    attempts=table.c.attempts + 1, updated_at=now)
        )
        with get_engine().begin() as connection:
            return connection.execute(statement).rowcount == 1

    def _renew_lease(self, remaining: list[Job]) -> None:
        """Extend the claim on the rest of the batch once half the lease has passed."""
        now = self.clock()
        lease = timedelta(seconds=self.settings.ALERT_CLAIM_SECONDS)
        if now - self.lease_renewed_at < lease / 2:
            return
        table = Alert.__table__
        with get_engine().begin() as connection:
            connection.execute(
                update(table)
                .where(table.c.id.in_([j.alert_id for j in remaining]),
                       table.c.claimed_by == self.owner, table.c.status == "SENDING",
                       table.c.claimed_until > now)
                .values(claimed_until=now + lease, updated_at=now)
            )
        self.lease_renewed_at = now

    def _flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        now = self.clock()
        with session_scope() as session:
            _write(session, batch, self.owner)
            events.record(session, [e for o in batch for e in o.events])
            for outcome in batch:
                if outcome.fallback:
                    alert = session.get(Alert, outcome.alert_id)
                    windows.mark_closed(session, outcome.recipient, now)
                    outbox.enqueue_template_fallback(session, alert, self.settings, now)
        sids = [o.sid for o in batch if o.sid]
        if sids:
            with session_scope() as session:
                callbacks.apply_buffered(session, sids, now, self.settings)
        for outcome in batch:
            self.counts[outcome.label] += 1
        self.flushed_at = time.monotonic()


def _write(session: Session, batch: list[Outcome], owner: str) -> None:
    """Write outcomes with one executemany per shape of update."""
    table = Alert.__table__
    groups: dict[tuple, list[dict]] = {}
    for outcome in batch:
        shape = (outcome.owned, tuple(sorted(outcome.values)))
        params = {f"v_{k}": v for k, v in outcome.values.items()}
        params["b_id"] = outcome.alert_id
        if outcome.owned:
            params["b_owner"] = owner
        groups.setdefault(shape, []).append(params)
    for (owned, columns), rows in groups.items():
        if owned:
            condition = and_(table.c.claimed_by == bindparam("b_owner"),
                             table.c.status == "SENDING")
        else:
            # Never move a row that a callback already moved past SENT.
            # (Written as OR: an IN list cannot be used in an executemany.)
            condition = or_(table.c.status == "SENDING", table.c.status == "PENDING")
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"), condition)
            .values({name: bindparam(f"v_{name}") for name in columns})
        )
        session.execute(statement, rows)


def queue_depth(session: Session) -> dict[str, int]:
    """Alert counts by status."""
    rows = session.execute(select(Alert.status, func.count()).group_by(Alert.status)).all()
    return {status: count for status, count in rows}
