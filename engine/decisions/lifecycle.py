"""Decision lifecycle: upsert, supersede, expire, clean up and manual status changes.

A decision is identified by (customer, event) and has at most one active
version. Regenerating it compares the draft with the active version:

- equal fingerprint: nothing is written;
- a change that is not material (exposure down or up by less than
  ``MATERIAL_EXPOSURE_CHANGE_PCT``, later deadline, new input ages): the
  active row is updated in place, keeping its version, status and alert;
- a material change (severity, recommended action, a deadline more than 12
  hours earlier, or exposure up by more than the threshold): the active row
  becomes SUPERSEDED and the next version is inserted OPEN. The outbox turns
  the new version into a new alert.

Every write is set-based (see ``engine.decisions.bulk``), so the number of
statements does not grow with the number of decisions on PostgreSQL.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from engine import metrics
from engine.clock import as_utc
from engine.decisions import bulk, reads
from engine.decisions.draft import DecisionDraft
from engine.models import Decision
from engine.models.base import utcnow

log = logging.getLogger(__name__)

STATUSES = ("OPEN", "ACKNOWLEDGED", "ACTED", "DISMISSED", "SUPERSEDED", "EXPIRED")
CLOSED = ("SUPERSEDED", "EXPIRED")
# Statuses that become EXPIRED at expiry. ACTED and DISMISSED keep the
# customer's answer, and SUPERSEDED keeps its history.
EXPIRES_TO_EXPIRED = ("OPEN", "ACKNOWLEDGED")
DEADLINE_MATERIAL_SHIFT = timedelta(hours=12)
PREVIEW_IDS = 100
DEFAULT_MATERIAL_EXPOSURE_CHANGE = 0.2
# Serialises upserts from the worker and the API on PostgreSQL, so two of
# them never compute the same next version.
UPSERT_LOCK_ID = 724_311_002
DRAFT_COLUMNS = [
    "customer_id", "event_key", "chokepoint", "severity", "recommended_action",
    "exposure_usd", "expected_loss_usd", "action_cost_usd", "net_benefit_usd",
    "probability", "confidence", "shipment_count", "deadline", "expires_at", "as_of",
    "answers", "provenance", "fingerprint",
]


@dataclass
class Change:
    decision_id: int
    customer_id: str
    version: int
    severity: str
    superseded_id: int | None
    # The stored row's columns, when the change was just written; the outbox
    # renders the alert from them instead of reading the decision back.
    # ``service.decide`` drops it once the batch's alerts are queued.
    row: dict | None = field(default=None, repr=False)


@dataclass
class UpsertResult:
    created: list[Change] = field(default_factory=list)
    updated_ids: list[int] = field(default_factory=list)
    unchanged: int = 0


def _material_change(current, draft: DecisionDraft, threshold: float) -> bool:
    if current.severity != draft.severity:
        return True
    if current.recommended_action != draft.recommended_action:
        return True
    if draft.deadline is not None:
        if current.deadline is None:
            return True
        if draft.deadline < as_utc(current.deadline) - DEADLINE_MATERIAL_SHIFT:
            return True
    return draft.exposure_usd > current.exposure_usd * (1.0 + threshold)


def _active_rows(session: Session, drafts: list[DecisionDraft]) -> dict[tuple[str, str], object]:
    events = sorted({d.event_key for d in drafts})
    customers = sorted({d.customer_id for d in drafts})
    # Both lists narrow the read: a batch of drafts covers few customers, and
    # the book's other active decisions need not travel.
    rows = session.execute(
        select(Decision.id, Decision.customer_id, Decision.event_key, Decision.version,
               Decision.fingerprint, Decision.severity, Decision.recommended_action,
               Decision.exposure_usd, Decision.deadline, Decision.status,
               Decision.expires_at)
        .where(Decision.is_expired.is_(False),
               bulk.in_list(Decision.event_key, events, session),
               bulk.in_list(Decision.customer_id, customers, session))
    ).all()
    return {(r.customer_id, r.event_key): r for r in rows}


def _latest_versions(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Return the highest stored version per key, for keys with no active row."""
    if not keys:
        return {}
    customers = sorted({k[0] for k in keys})
    events = sorted({k[1] for k in keys})
    rows = session.execute(
        select(Decision.customer_id, Decision.event_key, func.max(Decision.version))
        .where(bulk.in_list(Decision.customer_id, customers, session),
               bulk.in_list(Decision.event_key, events, session))
        .group_by(Decision.customer_id, Decision.event_key)
    ).all()
    wanted = set(keys)
    return {(c, e): v for c, e, v in rows if (c, e) in wanted}


def upsert(session: Session, drafts: list[DecisionDraft],
           material_exposure_change: float = DEFAULT_MATERIAL_EXPOSURE_CHANGE) -> list[Change]:
    """Store drafts; return the decisions created as new versions.

    In-place updates are written too but return no Change, because they do
    not call for a new alert. ``decisions_generated_total`` counts both.
    """
    return upsert_detailed(session, drafts, material_exposure_change).created


def upsert_detailed(session: Session, drafts: list[DecisionDraft],
                    material_exposure_change: float = DEFAULT_MATERIAL_EXPOSURE_CHANGE
                    ) -> UpsertResult:
    """Store drafts as ``upsert`` does, and report the ids updated in place and the unchanged."""
    result = UpsertResult()
    if not drafts:
        return result
    if bulk.is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": UPSERT_LOCK_ID})

    active = _active_rows(session, drafts)
    now = utcnow()
    superseded: list[int] = []
    expired: list[int] = []
    inserts: list[tuple[DecisionDraft, object | None]] = []
    updates: list[dict] = []
    touched_customers: set[str] = set()
    for draft in drafts:
        current = active.get((draft.customer_id, draft.event_key))
        if current is not None and as_utc(current.expires_at) <= draft.as_of:
            expired.append(current.id)
            inserts.append((draft, None))
        elif current is None:
            inserts.append((draft, None))
        elif current.fingerprint == draft.fingerprint:
            result.unchanged += 1
        elif _material_change(current, draft, material_exposure_change):
            superseded.append(current.id)
            inserts.append((draft, current))
        else:
            row = {c: getattr(draft, c) for c in DRAFT_COLUMNS if c not in (
                "customer_id", "event_key", "chokepoint")}
            updates.append({"id": current.id, **row, "updated_at": now})
            touched_customers.add(draft.customer_id)

    _close(session, superseded, "SUPERSEDED", now)
    _close(session, expired, "EXPIRED", now)
    bulk.update_rows(session, updates)
    result.updated_ids = [u["id"] for u in updates]
    result.created = _insert_versions(session, inserts, now)

    # Counted at commit, so a tick that rolls back and is redone counts once.
    metrics.count_on_commit(session, metrics.DECISIONS_GENERATED,
                            len(result.created) + len(updates))
    touched_customers.update(d.customer_id for d, _ in inserts)
    reads.invalidate(session, decision_ids=superseded + expired + result.updated_ids,
                     customer_ids=touched_customers)
    log.info("upsert: %d created, %d updated in place, %d unchanged, %d superseded",
             len(result.created), len(updates), result.unchanged, len(superseded))
    return result


def _close(session: Session, ids: list[int], status: str, now: datetime) -> None:
    bulk.set_by_ids(session, ids, {"status": status, "is_expired": True, "updated_at": now})


def _insert_versions(session: Session, inserts: list, now: datetime) -> list[Change]:
    missing = [(d.customer_id, d.event_key) for d, current in inserts if current is None]
    latest = _latest_versions(session, missing)
    rows = []
    for draft, current in inserts:
        key = (draft.customer_id, draft.event_key)
        version = current.version + 1 if current is not None else latest.get(key, 0) + 1
        row = {c: getattr(draft, c) for c in DRAFT_COLUMNS}
        row.update(version=version, status="OPEN", is_expired=False,
                   supersedes_id=current.id if current is not None else None,
                   created_at=now, updated_at=now)
        rows.append(row)
    by_key = {(r["customer_id"], r["event_key"]): r for r in rows}
    inserted = bulk.insert_rows(session, rows)
    changes = []
    for decision_id, customer, event, version in sorted(inserted, key=lambda r: r[0]):
        row = by_key[(customer, event)]
        changes.append(Change(decision_id, customer, version, row["severity"],
                              row["supersedes_id"], row={"id": decision_id, **row}))
    return changes


@dataclass
class CleanupResult:
    removed: int
    exposure_usd: float
    decision_ids: list[int]

    def as_dict(self) -> dict:
        return {"removed": self.removed, "exposure_usd": round(self.exposure_usd, 2),
                "decision_ids": self.decision_ids[:100]}


def _due(now: datetime):
    return Decision.is_expired.is_(False), Decision.expires_at <= now


def preview_cleanup(session: Session, now: datetime | None = None) -> CleanupResult:
    """Return what ``cleanup_expired`` would take out of the active book at ``now``.

    Count and exposure are aggregated in SQL; ``decision_ids`` lists at most
    the first ``PREVIEW_IDS`` of them, which keeps the preview cheap on a
    large book.
    """
    now = now or _domain_now(session)
    count, exposure = session.execute(
        select(func.count(), func.coalesce(func.sum(Decision.exposure_usd), 0.0))
        .where(*_due(now))
    ).one()
    ids = session.scalars(
        select(Decision.id).where(*_due(now)).order_by(Decision.id).limit(PREVIEW_IDS)
    ).all()
    return CleanupResult(int(count), float(exposure), list(ids))


def cleanup_expired(session: Session, now: datetime | None = None) -> CleanupResult:
    """Take every decision past ``expires_at`` out of the active book.

    ``now`` is domain time (the replay clock in replay mode), and leaving it
    out uses ``engine.clock.domain_now``. The rows stay, with ``is_expired``
    true, so that outcomes can be recorded later. OPEN and ACKNOWLEDGED
    become EXPIRED. Running it again removes nothing more, and concurrent
    runs on PostgreSQL skip each other's locked rows.
    """
    now = now or _domain_now(session)
    rows = session.execute(
        select(Decision.id, Decision.customer_id, Decision.exposure_usd, Decision.status)
        .where(*_due(now))
        .order_by(Decision.id)
        .with_for_update(skip_locked=True)
    ).all()
    ids = [r.id for r in rows]
    expiring = [r.id for r in rows if r.status in EXPIRES_TO_EXPIRED]
    stamp = utcnow()
    bulk.set_by_ids(session, expiring, {"status": "EXPIRED", "is_expired": True,
                                        "updated_at": stamp})
    bulk.set_by_ids(session, sorted(set(ids) - set(expiring)),
                    {"is_expired": True, "updated_at": stamp})
    reads.invalidate(session, decision_ids=ids, customer_ids={r.customer_id for r in rows})
    result = CleanupResult(len(ids), float(sum(r.exposure_usd for r in rows)), ids)
    log.info("cleanup at %s: %d expired decisions removed from the book (%.0f USD exposure)",
             now.isoformat(), result.removed, result.exposure_usd)
    return result


def _domain_now(session: Session) -> datetime:
    from engine.clock import domain_now
    from engine.settings import get_settings

    return domain_now(session, get_settings())


class DecisionNotFoundError(LookupError):
    """Raised when no decision has the given id."""


class TransitionError(ValueError):
    """Raised when a decision cannot move to the requested status."""


# Statuses a person (operator or customer) may set, and from which statuses.
_MANUAL_TRANSITIONS = {
    "ACKNOWLEDGED": {"OPEN"},
    "ACTED": {"OPEN", "ACKNOWLEDGED"},
    "DISMISSED": {"OPEN", "ACKNOWLEDGED"},
}


def set_status(session: Session, decision_id: int, status: str, actor: str,
               reason: str | None = None) -> Decision:
    """Move a decision to ACKNOWLEDGED, ACTED or DISMISSED, and audit who did it.

    Setting the status a decision already has changes nothing and writes no
    audit entry, so a repeated WhatsApp reply is harmless.
    """
    from engine import audit

    if status not in _MANUAL_TRANSITIONS:
        raise TransitionError(
            f"status {status!r} cannot be set by hand; use one of "
            f"{', '.join(_MANUAL_TRANSITIONS)}"
        )
    decision = session.get(Decision, decision_id, with_for_update=True)
    if decision is None:
        raise DecisionNotFoundError(f"decision {decision_id} not found")
    if decision.status == status:
        return decision
    if decision.status not in _MANUAL_TRANSITIONS[status]:
        raise TransitionError(
            f"decision {decision_id} is {decision.status} and cannot become {status}; "
            f"only a decision that is {' or '.join(sorted(_MANUAL_TRANSITIONS[status]))} can"
        )
    previous = decision.status
    decision.status = status
    decision.updated_at = utcnow()
    session.flush()
    reads.invalidate(session, decision_ids=[decision_id], customer_ids=[decision.customer_id])
    audit.record(session, actor, f"decision.{status.lower()}", f"decision:{decision_id}",
                 {"from": previous, "to": status}, reason)
    log.info("decision %d moved from %s to %s by %s", decision_id, previous, status, actor)
    return decision
