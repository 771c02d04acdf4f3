"""Cached reads of one decision and one customer's context, and their invalidation.

``decision:{id}`` lives for 5 minutes and ``customer:{id}:context`` for 10
(TTLs in ``engine.cache``). Writers invalidate the keys they touch at once
and again after their transaction commits, so a reader that cached the old
row in between is corrected. Without Redis the in-process store replaces
it. With the cache disabled (the backtest), reads go straight to the
database.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from engine import cache
from engine.clock import as_utc
from engine.models import Customer, Decision, Shipment

log = logging.getLogger(__name__)

_PENDING = "decision_cache_keys"
_disabled: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "decision_cache_disabled", default=False
)
CONTEXT_DECISIONS = 50


def decision_key(decision_id: int) -> str:
    return f"decision:{decision_id}"


def context_key(customer_id: str) -> str:
    return f"customer:{customer_id}:context"


@contextlib.contextmanager
def caching_disabled() -> Iterator[None]:
    """Neither read nor write the shared cache inside this block."""
    token = _disabled.set(True)
    try:
        yield
    finally:
        _disabled.reset(token)


def invalidate(session: Session, decision_ids: Iterable[int] = (),
               customer_ids: Iterable[str] = ()) -> None:
    """Drop cached entries now and once more after ``session`` commits."""
    if _disabled.get():
        return
    keys = {decision_key(i) for i in decision_ids} | {context_key(c) for c in customer_ids}
    if not keys:
        return
    cache.invalidate(*keys)
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = set()
        event.listen(session, "after_commit", _invalidate_pending)
        event.listen(session, "after_rollback", _forget_pending)
    pending.update(keys)


def _invalidate_pending(session: Session) -> None:
    keys = session.info.get(_PENDING)
    if keys:
        cache.invalidate(*keys)
        keys.clear()


def _forget_pending(session: Session) -> None:
    keys = session.info.get(_PENDING)
    if keys:
        keys.clear()


def _cacheable(session: Session, key: str) -> bool:
    return not _disabled.get() and key not in session.info.get(_PENDING, ())


def get_decision(session: Session, decision_id: int) -> dict | None:
    """Return one decision as a JSON-ready dict, from the cache when it is there."""
    key = decision_key(decision_id)
    if _cacheable(session, key):
        cached = cache.cached_json(key)
        if cached is not None:
            return cached
    row = session.get(Decision, decision_id)
    if row is None:
        return None
    data = decision_dict(row)
    if _cacheable(session, key):
        cache.cache_json(key, data, cache.DECISION_TTL_SECONDS)
    return data


def get_customer_context(session: Session, customer_id: str) -> dict | None:
    """Return a customer with its open shipments and active decisions, cached."""
    key = context_key(customer_id)
    if _cacheable(session, key):
        cached = cache.cached_json(key)
        if cached is not None:
            return cached
    customer = session.get(Customer, customer_id)
    if customer is None:
        return None
    data = _context(session, customer)
    if _cacheable(session, key):
        cache.cache_json(key, data, cache.CUSTOMER_CONTEXT_TTL_SECONDS)
    return data


def _context(session: Session, customer: Customer) -> dict:
    shipments, cargo = session.execute(
        select(func.count(), func.coalesce(func.sum(Shipment.cargo_value_usd), 0.0))
        .where(Shipment.customer_id == customer.id,
               Shipment.status.in_(("BOOKED", "IN_TRANSIT")))
    ).one()
    decisions = session.execute(
        select(Decision.id, Decision.event_key, Decision.severity,
               Decision.recommended_action, Decision.exposure_usd,
               Decision.expected_loss_usd, Decision.deadline, Decision.status,
               Decision.version)
        .where(Decision.customer_id == customer.id, Decision.is_expired.is_(False))
        .order_by(Decision.expected_loss_usd.desc())
        .limit(CONTEXT_DECISIONS)
    ).all()
    return {
        "customer_id": customer.id,
        "name": customer.name,
        "timezone": customer.timezone,
        "risk_tolerance": customer.risk_tolerance,
        "min_severity": customer.min_severity,
        "open_shipments": int(shipments),
        "open_cargo_value_usd": round(float(cargo), 2),
        "active_decisions": [
            {"id": d.id, "event_key": d.event_key, "severity": d.severity,
             "recommended_action": d.recommended_action,
             "exposure_usd": d.exposure_usd, "expected_loss_usd": d.expected_loss_usd,
             "deadline": _iso(d.deadline), "status": d.status, "version": d.version}
            for d in decisions
        ],
        "active_exposure_usd": round(sum(d.exposure_usd for d in decisions), 2),
    }


def decision_dict(row: Decision) -> dict:
    """Convert every column of a decision to JSON, times as ISO 8601 strings."""
    data = {}
    for column in Decision.__table__.columns:
        value = getattr(row, column.key)
        data[column.key] = _iso(value) if isinstance(value, datetime) else value
    return data


def _iso(value: datetime | None) -> str | None:
    return None if value is None else as_utc(value).isoformat()
