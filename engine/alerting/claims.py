"""Claim due alerts and decide what happens to each one in this dispatch run.

Claims take rows with ``SELECT ... FOR UPDATE SKIP LOCKED``, so dispatchers
working the same queue never take the same row, and a claim is a lease
(``claimed_until``): a dispatcher that dies loses its rows when the lease ends.
In the same transaction each claimed alert becomes a send job, or it is
settled without a send. It is adopted when its idempotency mark exists,
replaced when its decision moved on, deferred by quiet hours, held by the
daily cap, or failed when it needs a template that is not configured.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from engine.alerting import events, idempotency, preferences, templates, windows
from engine.alerting.errors import NO_TEMPLATE
from engine.alerting.status import REACHED
from engine.clock import as_utc
from engine.models import Alert, Customer, Decision
from engine.settings import Settings

log = logging.getLogger(__name__)

# Kinds that quiet hours delay. Replies are not among them: the customer has just written.
QUIET_KINDS = ("DECISION", "EXPIRED", "RESOLVED", "DIGEST")
# Kinds that count against the daily cap.
CAPPED_KINDS = ("DECISION", "DIGEST")


@dataclass
class Job:
    """An alert claimed by this dispatcher, to be sent (or looked up at Twilio first)."""

    alert_id: int
    kind: str
    recipient: str
    reference: str
    idempotency_key: str
    # When the alert row was created; it stamps the idempotency mark.
    created_at: datetime
    body: str
    content_sid: str | None
    content_variables: dict | None
    attempts: int
    # Set when an earlier send may have reached Twilio: look it up before resending.
    reconcile_since: datetime | None


@dataclass
class Claim:
    jobs: list[Job] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    # SIDs adopted from idempotency marks, whose buffered callbacks can now apply.
    adopted_sids: list[str] = field(default_factory=list)


def due(now: datetime):
    """Alerts waiting for their attempt, and sends whose dispatcher lost its lease."""
    return or_(
        and_(Alert.status == "PENDING", Alert.next_attempt_at <= now),
        and_(Alert.status == "SENDING", Alert.claimed_until < now),
    )


def claim(session: Session, owner: str, clock: Callable[[], datetime], limit: int,
          settings: Settings, simulated: bool, alert_ids: list[int] | None = None) -> Claim:
    """Lock up to ``limit`` due alerts for ``owner`` and plan each one."""
    now = clock()
    query = select(Alert).where(due(now))
    if alert_ids is not None:
        query = query.where(Alert.id.in_(alert_ids))
    query = (query.order_by(Alert.next_attempt_at, Alert.id).limit(limit)
             .with_for_update(skip_locked=True))
    rows = list(session.scalars(query))
    if not rows:
        return Claim()

    planner = _Planner(session, rows, now, settings, simulated)
    # Waiting for the customer locks can take a while: leases start after it.
    planner.lease_start = clock()
    for alert in rows:
        planner.plan(alert, owner)
    events.record(session, planner.events)
    return planner.result


class _Planner:
    def __init__(self, session: Session, rows: list[Alert], now: datetime,
                 settings: Settings, simulated: bool) -> None:
        self.now = now
        self.lease_start = now
        self.settings = settings
        self.simulated = simulated
        self.result = Claim()
        self.events: list[dict] = []

        decision_ids = {a.decision_id for a in rows if a.kind == "DECISION" and a.decision_id}
        self.decisions = {
            row.id: row
            for row in session.execute(
                select(Decision.id, Decision.status, Decision.is_expired, Decision.severity)
                .where(Decision.id.in_(decision_ids))
            )
        } if decision_ids else {}
        self.customers = _customers(session, rows)
        self.sent_today = _sent_today(session, self.customers, now)
        self.open = windows.open_recipients(session, {a.recipient for a in rows}, now)
        self.marks = idempotency.accepted_sids((a.idempotency_key, a.created_at) for a in rows)

    def plan(self, alert: Alert, owner: str) -> None:
        sid = self.marks.get(alert.idempotency_key)
        if sid is not None:
            self._adopt(alert, sid)
            return
        if alert.send_started_at is not None:
            # An earlier send may have gone out; its gating was done then.
            self._take(alert, owner, alert.content_sid, reconcile=True)
            return
        if self._replaced(alert) or self._deferred(alert):
            return

        needs_template = alert.fallback_of_id is not None or alert.recipient not in self.open
        content_sid = None
        if needs_template:
            content_sid = alert.content_sid if alert.fallback_of_id is not None else (
                templates.content_sid_for(alert.kind, self.settings))
            if content_sid is None:
                self._no_template(alert)
                return
        self._take(alert, owner, content_sid, reconcile=False)

    def _take(self, alert: Alert, owner: str, content_sid: str | None, reconcile: bool) -> None:
        alert.status = "SENDING"
        alert.claimed_by = owner
        alert.claimed_until = self.lease_start + timedelta(
            seconds=self.settings.ALERT_CLAIM_SECONDS)
        alert.content_sid = content_sid
        self.result.jobs.append(Job(
            alert_id=alert.id, kind=alert.kind, recipient=alert.recipient,
            reference=alert.reference, idempotency_key=alert.idempotency_key,
            created_at=alert.created_at, body=alert.body, content_sid=content_sid,
            content_variables=alert.content_variables, attempts=alert.attempts,
            reconcile_since=alert.send_started_at if reconcile else None,
        ))

    def _adopt(self, alert: Alert, sid: str) -> None:
        """Twilio accepted this alert before; only the row was not updated."""
        alert.status = "SENT"
        alert.twilio_sid = sid
        alert.simulated = self.simulated
        alert.sent_at = alert.sent_at or self.now
        alert.send_started_at = None
        alert.claimed_by = None
        alert.claimed_until = None
        self.result.adopted_sids.append(sid)
        self.result.counts["reconciled"] += 1
        self.events.append(events.event(alert.id, "reconcile", "adopted", self.now,
                                        status="SENT", sid=sid,
                                        detail="accepted earlier, found by its idempotency mark"))
        log.info("alert %s to %s was already accepted as %s: recorded, not resent", alert.id,
                 alert.recipient, sid)

    def _replaced(self, alert: Alert) -> bool:
        """Settle an alert whose customer or decision moved on before it went out."""
        if alert.customer_id not in self.customers:
            self._settle(alert, "CANCELLED", "cancelled",
                         f"customer {alert.customer_id} no longer exists")
            return True
        if alert.kind != "DECISION" or alert.decision_id is None:
            return False
        decision = self.decisions.get(alert.decision_id)
        if decision is not None and not decision.is_expired and decision.status in (
            "OPEN", "ACKNOWLEDGED"
        ):
            return False
        if decision is None or decision.status == "SUPERSEDED":
            reason = "decision deleted" if decision is None else "a newer version replaced it"
            self._settle(alert, "SUPERSEDED", "superseded", reason)
        else:
            self._settle(alert, "CANCELLED", "cancelled",
                         f"decision became {decision.status} before the alert went out")
        return True

    def _deferred(self, alert: Alert) -> bool:
        """Hold the alert back for quiet hours or the daily cap, if they apply."""
        customer = self.customers.get(alert.customer_id)
        if customer is None or alert.kind not in QUIET_KINDS:
            return False
        decision = self.decisions.get(alert.decision_id) if alert.kind == "DECISION" else None
        critical = decision is not None and decision.severity == "CRITICAL"
        start, end = customer.quiet_hours_start, customer.quiet_hours_end
        breaks_through = critical and customer.critical_breaks_quiet
        if not breaks_through and preferences.in_quiet_hours(self.now, customer.timezone,
                                                             start, end):
            until = preferences.quiet_hours_end(self.now, customer.timezone, end)
            self._postpone(alert, "PENDING", until, "deferred",
                           f"quiet hours of customer {customer.id} until {until.isoformat()}")
            return True
        if alert.kind not in CAPPED_KINDS:
            return False
        sent = self.sent_today.get(customer.id, 0)
        exempt = critical and self.settings.ALERT_CRITICAL_BYPASSES_CAP
        if alert.kind == "DECISION" and sent >= customer.daily_alert_cap and not exempt:
            until = preferences.next_local_day_start(self.now, customer.timezone)
            self._postpone(alert, "HELD", until, "held",
                           f"daily cap of {customer.daily_alert_cap} reached for customer "
                           f"{customer.id}; goes into the digest at {until.isoformat()}")
            return True
        self.sent_today[customer.id] = sent + 1
        return False

    def _no_template(self, alert: Alert) -> None:
        setting = templates.setting_for(alert.kind)
        message = (f"{alert.recipient} is outside WhatsApp's 24-hour window and "
                   + (f"{setting} is not set; set it to an approved Content SID, then "
                      "retry the alert" if setting else
                      f"{alert.kind} messages have no template; nothing was sent"))
        alert.last_error_code = NO_TEMPLATE
        alert.last_error_message = message
        self._settle(alert, "FAILED", "failed", message, code=NO_TEMPLATE)
        log.error("alert %s: %s", alert.id, message)

    def _settle(self, alert: Alert, status: str, label: str, detail: str,
                code: str | None = None) -> None:
        alert.status = status
        alert.claimed_by = None
        alert.claimed_until = None
        self.result.counts[label] += 1
        self.events.append(events.event(alert.id, "dispatch", label, self.now, status=status,
                                        code=code, detail=detail))

    def _postpone(self, alert: Alert, status: str, until: datetime, label: str,
                  detail: str) -> None:
        alert.next_attempt_at = until
        self._settle(alert, status, label, detail)


def _customers(session: Session, rows: list[Alert]) -> dict[str, Customer]:
    """Customers of the claimed alerts; those with decision alerts are locked.

    The lock serialises daily-cap counting per customer across dispatchers, and
    taking the locks in id order keeps two claims from deadlocking.
    """
    ids = sorted({a.customer_id for a in rows})
    capped = sorted({a.customer_id for a in rows if a.kind in CAPPED_KINDS})
    result = {}
    if capped:
        locked = select(Customer).where(Customer.id.in_(capped)).order_by(Customer.id)
        result.update({c.id: c for c in session.scalars(locked.with_for_update())})
    rest = [i for i in ids if i not in result]
    if rest:
        result.update({c.id: c for c in session.scalars(
            select(Customer).where(Customer.id.in_(rest)))})
    return result


def _sent_today(session: Session, customers: dict[str, Customer],
                now: datetime) -> dict[str, int]:
    """Capped messages per customer since the start of their local day, in flight included."""
    if not customers:
        return {}
    starts = {cid: preferences.local_day_start(now, c.timezone) for cid, c in customers.items()}
    earliest = min(starts.values())
    rows = session.execute(
        select(Alert.customer_id, Alert.sent_at, Alert.status).where(
            Alert.customer_id.in_(list(customers)), Alert.kind.in_(CAPPED_KINDS),
            or_(and_(Alert.status.in_(REACHED), Alert.sent_at >= earliest),
                Alert.status == "SENDING"),
        )
    ).all()
    counts: dict[str, int] = {}
    for customer_id, sent_at, status in rows:
        if status == "SENDING" or as_utc(sent_at) >= starts[customer_id]:
            counts[customer_id] = counts.get(customer_id, 0) + 1
    return counts

