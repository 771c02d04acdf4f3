"""Outcomes of a send, a lookup or a rejection, as changes to an alert row.

Each function returns an Outcome: the column values to write, the events to
log and the follow-ups (a template fallback, buffered callbacks). The
dispatcher collects outcomes and writes them in batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from engine.alerting import events
from engine.alerting.backoff import retry_delay
from engine.alerting.channels import SendResult
from engine.alerting.claims import Job
from engine.alerting.errors import WINDOW_CLOSED, DeliveryError, ErrorKind, describe_code
from engine.alerting.status import from_twilio
from engine.settings import Settings


@dataclass
class Outcome:
    alert_id: int
    # riskcast_alerts_sent_total label: sent, reconciled, retry, failed, dead, deferred
    label: str
    values: dict
    # Failures and releases apply only while this dispatcher still owns the
    # claim. An accepted message is recorded even if another dispatcher owns it now.
    owned: bool
    events: list[dict] = field(default_factory=list)
    sid: str | None = None
    # 63016 on free text: queue the approved-template copy and close the window.
    fallback: bool = False
    recipient: str | None = None


def _cleared(now: datetime) -> dict:
    return {"claimed_by": None, "claimed_until": None, "updated_at": now}


def accepted(job: Job, result: SendResult, now: datetime, source: str) -> Outcome:
    """Twilio accepted the message (``source`` dispatch), or a lookup found it (reconcile)."""
    status = from_twilio(result.status) or "SENT"
    values = {**_cleared(now), "status": status, "twilio_sid": result.sid,
              "simulated": result.simulated, "sent_at": now, "send_started_at": None}
    fallback = False
    if status == "FAILED":
        values["last_error_code"] = result.error_code
        values["last_error_message"] = result.error_message or describe_code(result.error_code)
        fallback = result.error_code == WINDOW_CLOSED and job.content_sid is None
    name = "sent" if source == "dispatch" else "found"
    label = "sent" if source == "dispatch" else "reconciled"
    detail = ("template " + job.content_sid) if job.content_sid else "free text"
    return Outcome(
        job.alert_id, label, values, owned=False, sid=result.sid, fallback=fallback,
        recipient=job.recipient,
        events=[events.event(job.alert_id, source, name, now, status=status, sid=result.sid,
                             code=result.error_code, detail=detail)],
    )


def rejected(job: Job, exc: DeliveryError, now: datetime, settings: Settings) -> Outcome:
    """Twilio did not accept the message, or the send's outcome is unknown."""
    values = {**_cleared(now), "last_error_code": exc.code,
              "last_error_message": exc.message[:1000]}
    if exc.kind == ErrorKind.RATE_LIMITED:
        # A rate limit costs no attempt: nothing was wrong with the message.
        delay = retry_delay(job.attempts + 1, settings.ALERT_BACKOFF_BASE_SECONDS,
                            settings.ALERT_BACKOFF_MAX_SECONDS,
                            exc.retry_after or settings.ALERT_BACKOFF_BASE_SECONDS)
        values.update(status="PENDING", attempts=job.attempts, send_started_at=None,
                      next_attempt_at=now + timedelta(seconds=delay))
        return _outcome(job, "retry", values, exc, now, f"rate limited; retry in {delay:.1f}s")

    if exc.kind in (ErrorKind.RECIPIENT, ErrorKind.REQUEST):
        values.update(status="FAILED", send_started_at=None)
        outcome = _outcome(job, "failed", values, exc, now, "permanent: not retried")
        outcome.fallback = exc.code == WINDOW_CLOSED and job.content_sid is None
        outcome.recipient = job.recipient
        return outcome

    return _transient(job, exc, now, settings, job.attempts + 1)


def lookup_failed(job: Job, exc: DeliveryError, now: datetime, settings: Settings) -> Outcome:
    """Keep the alert in doubt after a failed lookup of its earlier send, and retry later."""
    return _transient(job, exc, now, settings, job.attempts + 1, source="reconcile",
                      keep_marker=True)


def _transient(job: Job, exc: DeliveryError, now: datetime, settings: Settings,
               attempts: int, source: str = "dispatch", keep_marker: bool | None = None) -> Outcome:
    keep = exc.maybe_sent if keep_marker is None else keep_marker
    values = {**_cleared(now), "attempts": attempts, "last_error_code": exc.code,
              "last_error_message": exc.message[:1000]}
    if not keep:
        values["send_started_at"] = None
    if attempts >= settings.ALERT_MAX_ATTEMPTS:
        values["status"] = "DEAD"
        return _outcome(job, "dead", values, exc, now,
                        f"gave up after {attempts} attempts", source)
    delay = retry_delay(attempts, settings.ALERT_BACKOFF_BASE_SECONDS,
                        settings.ALERT_BACKOFF_MAX_SECONDS)
    if keep:
        # Twilio could still create the message after a late response, so the
        # lookup before the resend waits for the grace period.
        delay = max(delay, settings.ALERT_RECONCILE_GRACE_SECONDS)
    values.update(status="PENDING", next_attempt_at=now + timedelta(seconds=delay))
    return _outcome(job, "retry", values, exc, now, f"retry in {delay:.1f}s", source)


def released(job: Job, until: datetime, now: datetime, reason: str,
             fenced: bool = False) -> Outcome:
    """Give back a claimed alert without a verdict, due again at ``until``."""
    values = {**_cleared(now), "status": "PENDING", "next_attempt_at": until}
    if fenced:
        # The fence counted an attempt that never reached Twilio.
        values["attempts"] = job.attempts
        if job.reconcile_since is None:
            values["send_started_at"] = None
    return Outcome(job.alert_id, "deferred", values, owned=True,
                   events=[events.event(job.alert_id, "dispatch", "deferred", now,
                                        status="PENDING", detail=reason)])


def _outcome(job: Job, label: str, values: dict, exc: DeliveryError, now: datetime,
             note: str, source: str = "dispatch") -> Outcome:
    detail = f"{exc.message} ({note})"
    return Outcome(job.alert_id, label, values, owned=True,
                   events=[events.event(job.alert_id, source, exc.kind.value, now,
                                        status=values["status"], code=exc.code,
                                        detail=detail)])
