"""Domain time: the replay clock in replay mode, the wall clock in live mode.

Decisions, deadlines and expiry are computed against domain time, so a replay
of the 2023-24 Red Sea crisis produces the decisions a customer would have
received then. Audit columns such as ``created_at`` always use wall time.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import ReplayState
from engine.models.base import utcnow
from engine.settings import Settings


def _start_of(day: str) -> datetime:
    return datetime.combine(datetime.fromisoformat(day).date(), time(), timezone.utc)


def as_utc(value: datetime) -> datetime:
    """Treat naive datetimes (SQLite returns them) as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def domain_now(session: Session, settings: Settings) -> datetime:
    """Return the time the pipeline reasons about."""
    if settings.SOURCE_MODE == "live":
        return utcnow()
    state = session.get(ReplayState, 1)
    if state is None:
        return _start_of(settings.REPLAY_START)
    return as_utc(state.replay_at)


def advance_replay(session: Session, settings: Settings) -> datetime:
    """Move the replay clock one step forward, stopping at REPLAY_END.

    The row is locked for the update so that two workers cannot both advance
    it for the same period.
    """
    end = _start_of(settings.REPLAY_END)
    state = session.execute(
        select(ReplayState).where(ReplayState.id == 1).with_for_update()
    ).scalar_one_or_none()
    if state is None:
        state = ReplayState(id=1, replay_at=_start_of(settings.REPLAY_START))
        session.add(state)
        session.flush()
        return as_utc(state.replay_at)

    step = timedelta(hours=settings.REPLAY_STEP_HOURS)
    state.replay_at = min(as_utc(state.replay_at) + step, end)
    state.updated_at = utcnow()
    session.flush()
    return as_utc(state.replay_at)


def ensure_replay_state(session: Session, settings: Settings) -> datetime:
    """Create the replay position at REPLAY_START if none exists yet."""
    state = session.get(ReplayState, 1)
    if state is None:
        state = ReplayState(id=1, replay_at=_start_of(settings.REPLAY_START))
        session.add(state)
        session.flush()
    return as_utc(state.replay_at)
