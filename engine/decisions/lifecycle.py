"""Decision lifecycle: upsert, supersede, expire and clean up.

A decision is identified by (customer, event). Regenerating with the same
material inputs (same fingerprint) leaves the row untouched; a material change
marks the current version SUPERSEDED and inserts the next version.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.orm import Session

from engine import cache, metrics
from engine.decisions.generate import DecisionDraft
from engine.models import Decision
from engine.models.base import utcnow

log = logging.getLogger(__name__)

STATUSES = ("OPEN", "ACKNOWLEDGED", "ACTED", "DISMISSED", "SUPERSEDED", "EXPIRED")
CLOSED = ("SUPERSEDED", "EXPIRED")


@dataclass
class Change:
    decision_id: int
    customer_id: str
    version: int
    severity: str
    superseded_id: int | None


def current_versions(session: Session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Decision]:
    """The newest version per (customer, event) among ``keys``."""
    if not keys:
        return {}
    latest = (
        select(Decision.customer_id, Decision.event_key, func.max(Decision.version).label("v"))
        .group_by(Decision.customer_id, Decision.event_key)
        .subquery()
    )
    rows = session.scalars(
        select(Decision).join(
            latest,
            and_(Decision.customer_id == latest.c.customer_id,
                 Decision.event_key == latest.c.event_key,
                 Decision.version == latest.c.v),
        ).where(Decision.event_key.in_({k[1] for k in keys}))
    ).all()
    return {(d.customer_id, d.event_key): d for d in rows if (d.customer_id, d.event_key) in keys}


def upsert(session: Session, drafts: list[DecisionDraft]) -> list[Change]:
    """Store drafts; return the decisions created or materially changed."""
    existing = current_versions(session, {(d.customer_id, d.event_key) for d in drafts})
    changes: list[Change] = []
    superseded: list[int] = []
    new_rows: list[dict] = []
    for draft in drafts:
        current = existing.get((draft.customer_id, draft.event_key))
        if current is not None and current.fingerprint == draft.fingerprint and not current.is_expired:
            continue
        version = 1 if current is None else current.version + 1
        row = asdict(draft)
        row.update(version=version, status="OPEN", is_expired=False,
                   supersedes_id=current.id if current is not None else None)
        if current is not None and current.status not in CLOSED:
            superseded.append(current.id)
        new_rows.append(row)

    if superseded:
        session.execute(
            update(Decision).where(Decision.id.in_(superseded))
            .values(status="SUPERSEDED", updated_at=utcnow())
        )
        cache.invalidate(*(f"decision:{i}" for i in superseded))
    for start in range(0, len(new_rows), 1000):
        chunk = new_rows[start : start + 1000]
        ids = session.execute(insert(Decision).returning(Decision.id), chunk).scalars().all()
        for decision_id, row in zip(ids, chunk):
            changes.append(Change(decision_id, row["customer_id"], row["version"],
                                  row["severity"], row["supersedes_id"]))
    if changes:
        cache.invalidate(*{f"customer:{c.customer_id}:context" for c in changes})
        metrics.count_on_commit(session, metrics.DECISIONS_GENERATED, len(changes))
    return changes


@dataclass
class CleanupResult:
    removed: int
    exposure_usd: float
    decision_ids: list[int]

    def as_dict(self) -> dict:
        return {"removed": self.removed, "exposure_usd": round(self.exposure_usd, 2),
                "decision_ids": self.decision_ids[:100]}


def preview_cleanup(session: Session, now: datetime) -> CleanupResult:
    """What ``cleanup_expired`` would remove from the active book at ``now``."""
    row = session.execute(
        select(func.count(), func.coalesce(func.sum(Decision.exposure_usd), 0.0))
        .where(Decision.is_expired.is_(False), Decision.expires_at <= now)
    ).one()
    return CleanupResult(int(row[0]), float(row[1]), [])


def cleanup_expired(session: Session, now: datetime) -> CleanupResult:
    """Take every decision past ``expires_at`` out of the active book.

    The rows stay (with ``is_expired`` true and status EXPIRED) so outcomes can
    be scored later. Running it again removes nothing more.
    """
    rows = session.execute(
        select(Decision.id, Decision.exposure_usd)
        .where(Decision.is_expired.is_(False), Decision.expires_at <= now)
        .with_for_update(skip_locked=True)
    ).all()
    ids = [r.id for r in rows]
    if ids:
        session.execute(
            update(Decision).where(Decision.id.in_(ids))
            .values(is_expired=True, status="EXPIRED", updated_at=utcnow())
        )
        cache.invalidate(*(f"decision:{i}" for i in ids))
    result = CleanupResult(len(ids), float(sum(r.exposure_usd for r in rows)), ids)
    log.info("cleanup: %d expired decisions removed from the book (%.0f USD exposure)",
             result.removed, result.exposure_usd)
    return result


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
    """Move a decision to ACKNOWLEDGED, ACTED or DISMISSED, and audit who did it."""
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
            f"decision {decision_id} is {decision.status} and cannot become {status}"
        )
    previous = decision.status
    decision.status = status
    decision.updated_at = utcnow()
    session.flush()
    cache.invalidate(f"decision:{decision_id}", f"customer:{decision.customer_id}:context")
    audit.record(session, actor, f"decision.{status.lower()}", f"decision:{decision_id}",
                 {"from": previous, "to": status}, reason)
    return decision
