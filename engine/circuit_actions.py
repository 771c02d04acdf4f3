"""Reset a circuit breaker from the dashboard, with a reason in the audit log."""

from __future__ import annotations

import inspect
import logging

from sqlalchemy import func, select

from engine import audit, breakers
from engine.db import session_scope
from engine.models import AuditEntry
from engine.models.base import utcnow

log = logging.getLogger(__name__)


class CircuitResetError(ValueError):
    """Raised when a reset request is incomplete, for example without a reason."""


def reset_circuit(name: str, actor: str, reason: str) -> dict:
    """Close circuit ``name``; return its new state. Writes one audit entry."""
    reason = (reason or "").strip()
    if not reason:
        raise CircuitResetError(
            f"give a reason for resetting the {name} circuit; the audit log keeps it"
        )
    if name not in breakers.SPECS:
        raise breakers.UnknownBreakerError(name)
    started = utcnow()
    parameters = inspect.signature(breakers.reset).parameters
    if "actor" in parameters and "reason" in parameters:
        state = breakers.reset(name, actor=actor, reason=reason)
    else:
        state = breakers.reset(name)
    # breakers.reset may audit the reset itself; add an entry only if it did not.
    with session_scope() as session:
        already = session.scalar(
            select(func.count()).select_from(AuditEntry).where(
                AuditEntry.actor == actor, AuditEntry.at >= started,
                AuditEntry.target.contains(name), AuditEntry.action.contains("reset"),
            )
        )
        if not already:
            audit.record(session, actor, "circuit.reset", f"circuit:{name}",
                         {"state": str(state.get("state")) if isinstance(state, dict) else None},
                         reason)
    log.info("circuit %s reset by %s: %s", name, actor, reason)
    return state
