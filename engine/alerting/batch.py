"""Send one claimed batch: look up doubtful sends, fence, send in parallel, record.

The batch is worked in chunks. In each chunk, alerts whose earlier send may
have reached Twilio are looked up first. The others are fenced in one
statement, which marks as started only the rows this dispatcher still owns.
A small thread pool sends them, because each Twilio request mostly waits on
the network. Outcomes are written every ``FLUSH_EVERY`` alerts.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from engine import metrics
from engine.alerting import callbacks, events, idempotency, leases, outbox, outcomes, windows
from engine.alerting.channels import OutboundMessage
from engine.alerting.circuit import CircuitOpenError, guarded, reset_timeout
from engine.alerting.claims import Job
from engine.alerting.errors import DeliveryError, ErrorKind
from engine.alerting.outcomes import Outcome
from engine.db import session_scope
from engine.models import Alert
from engine.settings import Settings

log = logging.getLogger(__name__)

CHUNK = 25
FLUSH_EVERY = 50


class Batch:
    def __init__(self, owner: str, channel, clock: Callable[[], datetime], settings: Settings,
                 counts: Counter) -> None:
        self.owner = owner
        self.channel = channel
        self.clock = clock
        self.settings = settings
        self.counts = counts
        self.workers = settings.ALERT_SEND_CONCURRENCY
        self.pending: list[Outcome] = []
        # Events that belong to no outcome, such as a lookup that found nothing.
        self.notes: list[dict] = []
        self.lease_renewed_at = clock()
        self.lost: set[int] = set()
        # Set when Twilio asked us to slow down (429) or the circuit is open.
        self.pause_until: datetime | None = None
        self.pause_reason = ""

    def process(self, jobs: list[Job]) -> None:
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="alert-send")
        try:
            for start in range(0, len(jobs), CHUNK):
                self._chunk(pool, jobs[start:start + CHUNK], jobs[start:])
                if len(self.pending) >= FLUSH_EVERY:
                    self._flush()
        finally:
            pool.shutdown(wait=True)
            self._flush()

    def _chunk(self, pool: ThreadPoolExecutor, chunk: list[Job], remaining: list[Job]) -> None:
        if self.pause_until is not None:
            self._release(chunk)
            return
        self._renew(remaining)
        chunk = [job for job in chunk if job.alert_id not in self.lost]

        doubtful = [job for job in chunk if job.reconcile_since is not None]
        settled = {job.alert_id for job, done in zip(
            doubtful, pool.map(self._found_earlier, doubtful)) if done}
        to_send = [job for job in chunk if job.alert_id not in settled]
        if self.pause_until is not None:
            self._release(to_send)
            return

        now = self.clock()
        rounds = math.ceil(len(to_send) / self.workers) if to_send else 0
        hold = (self.settings.TWILIO_TIMEOUT_SECONDS * rounds
                + self.settings.ALERT_RECONCILE_GRACE_SECONDS)
        until = now + timedelta(seconds=max(hold, self.settings.ALERT_CLAIM_SECONDS))
        # NOTE: a process frozen between this fence and its request for longer than
        # ``until`` can send after another dispatcher took the alert over.
        fenced = leases.fence([j.alert_id for j in to_send], self.owner, now, until)
        for job in to_send:
            if job.alert_id not in fenced:
                self._lost(job)
        list(pool.map(self._send, [j for j in to_send if j.alert_id in fenced]))

    def _renew(self, remaining: list[Job]) -> None:
        """Extend the claim on the rest of the batch once half the lease has passed."""
        now = self.clock()
        lease = timedelta(seconds=self.settings.ALERT_CLAIM_SECONDS)
        if now - self.lease_renewed_at < lease / 2:
            return
        ids = [job.alert_id for job in remaining if job.alert_id not in self.lost]
        still_owned = leases.renew(ids, self.owner, now, lease)
        self.lease_renewed_at = now
        for job in remaining:
            if job.alert_id not in still_owned and job.alert_id not in self.lost:
                self._lost(job)

    def _lost(self, job: Job) -> None:
        self.lost.add(job.alert_id)
        self.counts["lost"] += 1
        log.warning("alert %s: claim lost to another dispatcher before sending; skipped",
                    job.alert_id)

    def _send(self, job: Job) -> None:
        now = self.clock()
        if self.pause_until is not None:
            self.pending.append(outcomes.released(job, self.pause_until, now,
                                                  self.pause_reason, fenced=True))
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
            self._rejected(job, exc)
            return
        # Marked only now that Twilio has accepted the message.
        idempotency.mark_accepted(job.idempotency_key, result.sid, job.created_at)
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
            self.notes.append(events.event(job.alert_id, "reconcile", "not_found", now,
                                           detail="no message with this reference at Twilio"))
            return False
        idempotency.mark_accepted(job.idempotency_key, found.sid, job.created_at)
        log.info("alert %s: earlier send was accepted as %s; recorded, not resent",
                 job.alert_id, found.sid)
        self.pending.append(outcomes.accepted(job, found, now, "reconcile"))
        return True

    def _rejected(self, job: Job, exc: DeliveryError) -> None:
        now = self.clock()
        outcome = outcomes.rejected(job, exc, now, self.settings)
        self.pending.append(outcome)
        if exc.kind == ErrorKind.RATE_LIMITED:
            metrics.TWILIO_RATE_LIMITED.inc()
            self._pause(outcome.values["next_attempt_at"], f"Twilio rate limit ({exc.code})")
        level = logging.ERROR if outcome.label in ("failed", "dead") else logging.WARNING
        log.log(level, "alert %s to %s: %s -> %s", job.alert_id, job.recipient, exc,
                outcome.values["status"])

    def _pause(self, until: datetime, reason: str) -> None:
        if self.pause_until is None or until > self.pause_until:
            self.pause_until = until
            self.pause_reason = reason
            log.warning("dispatch %s pauses until %s: %s", self.owner, until.isoformat(),
                        reason)

    def _release(self, jobs: list[Job]) -> None:
        now = self.clock()
        for job in jobs:
            self.pending.append(outcomes.released(job, self.pause_until, now, self.pause_reason))

    def _flush(self) -> None:
        if not self.pending and not self.notes:
            return
        batch, self.pending = self.pending, []
        notes, self.notes = self.notes, []
        now = self.clock()
        with session_scope() as session:
            leases.write_outcomes(session, batch, self.owner)
            events.record(session, notes + [e for o in batch for e in o.events])
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
