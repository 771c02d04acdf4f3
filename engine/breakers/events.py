"""History of circuit state changes: logged at once, stored in ``circuit_events``.

A state change can happen while the database is the thing that fails, or in
the middle of a tick's transaction, so events wait in a bounded in-process
queue. On PostgreSQL the recorder writes them straight away in a short
transaction of its own; on SQLite, where a second writer would wait for the
tick's lock, they are written by ``flush(session)`` from the tick or a reader.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import event, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from engine.models import CircuitEvent
from engine.models.base import utcnow

log = logging.getLogger(__name__)

MAX_PENDING = 1000
# After a failed write, wait this long before the recorder tries on its own
# again, so that a database outage does not slow every breaker call.
WRITE_RETRY_SECONDS = 30.0


@dataclass
class PendingEvent:
    name: str
    from_state: str
    to_state: str
    reason: str | None
    # True when this process only noticed a change made elsewhere (another
    # process, an operator's redis-cli, a Redis flush).
    observed: bool = False
    at: datetime = field(default_factory=utcnow)


_pending: deque[PendingEvent] = deque(maxlen=MAX_PENDING)
_lock = threading.Lock()
_next_attempt = 0.0


def record(change: PendingEvent) -> None:
    """Log a state change and queue it for the ``circuit_events`` table."""
    level = logging.WARNING if change.to_state == "open" else logging.INFO
    log.log(level, "circuit %s: %s -> %s (%s)", change.name, change.from_state,
            change.to_state, change.reason or "no reason given")
    with _lock:
        if len(_pending) == MAX_PENDING:
            log.warning("circuit %s: event queue full; dropping the oldest unsaved event",
                        change.name)
        _pending.append(change)
    _write_now()


def pending() -> list[PendingEvent]:
    with _lock:
        return list(_pending)


def _write_now() -> None:
    global _next_attempt
    from engine.db import get_engine, session_scope

    if time.monotonic() < _next_attempt:
        return
    try:
        if get_engine().dialect.name != "postgresql":
            return
        with session_scope() as session:
            flush(session)
    except (SQLAlchemyError, OSError) as exc:
        _next_attempt = time.monotonic() + WRITE_RETRY_SECONDS
        log.warning("circuit events not saved yet (%s: %s); %d waiting, retrying later",
                    type(exc).__name__, exc, len(_pending))


def flush(session: Session) -> int:
    """Add every queued event to ``session``; return how many rows were added.

    The events go back on the queue if that session rolls back.
    """
    with _lock:
        batch = list(_pending)
        _pending.clear()
    if not batch:
        return 0

    added = []
    newest = _newest_states(session, {e.name for e in batch if e.observed})
    for change in batch:
        if change.observed and newest.get(change.name) == change.to_state:
            # Another process already recorded this change.
            continue
        newest[change.name] = change.to_state
        added.append(change)
        session.add(CircuitEvent(name=change.name, from_state=change.from_state,
                                 to_state=change.to_state, reason=change.reason,
                                 at=change.at))

    committed = []

    def mark_committed(_session: Session) -> None:
        committed.append(True)

    def requeue(_session: Session) -> None:
        if committed:
            return
        committed.append(True)
        with _lock:
            _pending.extendleft(reversed(batch))

    event.listen(session, "after_commit", mark_committed, once=True)
    event.listen(session, "after_rollback", requeue, once=True)
    session.flush()
    return len(added)


def _newest_states(session: Session, names: set[str]) -> dict[str, str]:
    result = {}
    for name in names:
        row = session.scalars(
            select(CircuitEvent).where(CircuitEvent.name == name)
            .order_by(CircuitEvent.at.desc(), CircuitEvent.id.desc()).limit(1)
        ).first()
        if row is not None:
            result[name] = row.to_state
    return result


def history(session: Session, name: str | None = None, limit: int = 200) -> list[CircuitEvent]:
    """Return the newest circuit events first, for one circuit or all."""
    flush(session)
    query = select(CircuitEvent).order_by(CircuitEvent.at.desc(), CircuitEvent.id.desc())
    if name is not None:
        query = query.where(CircuitEvent.name == name)
    return list(session.scalars(query.limit(limit)))


def clear_pending() -> None:
    global _next_attempt
    with _lock:
        _pending.clear()
    _next_attempt = 0.0
