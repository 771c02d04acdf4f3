"""SQL for a dispatcher's claims: fence before sending, renew, and write outcomes.

Every write here is conditional on the dispatcher still holding the claim, so
a dispatcher that lost its lease (paused, partitioned, too slow) can neither
send nor overwrite what the dispatcher that took over recorded.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, or_, update
from sqlalchemy.orm import Session

from engine.alerting.outcomes import Outcome
from engine.db import get_engine
from engine.models import Alert

_TABLE = Alert.__table__


def fence(alert_ids: list[int], owner: str, now: datetime, until: datetime) -> set[int]:
    """Mark sends as started on the alerts ``owner`` still holds; return their ids.

    ``send_started_at`` keeps an earlier value: that send is still in doubt.
    """
    if not alert_ids:
        return set()
    statement = (
        update(_TABLE)
        .where(_TABLE.c.id.in_(alert_ids), _TABLE.c.claimed_by == owner,
               _TABLE.c.status == "SENDING", _TABLE.c.claimed_until > now)
        .values(send_started_at=func.coalesce(_TABLE.c.send_started_at, now),
                claimed_until=until, attempts=_TABLE.c.attempts + 1, updated_at=now)
        .returning(_TABLE.c.id)
    )
    with get_engine().begin() as connection:
        return set(connection.execute(statement).scalars())


def renew(alert_ids: list[int], owner: str, now: datetime, lease: timedelta) -> set[int]:
    """Extend the claim on alerts ``owner`` still holds; return their ids."""
    if not alert_ids:
        return set()
    statement = (
        update(_TABLE)
        .where(_TABLE.c.id.in_(alert_ids), _TABLE.c.claimed_by == owner,
               _TABLE.c.status == "SENDING", _TABLE.c.claimed_until > now)
        .values(claimed_until=now + lease, updated_at=now)
        .returning(_TABLE.c.id)
    )
    with get_engine().begin() as connection:
        return set(connection.execute(statement).scalars())


def write_outcomes(session: Session, batch: list[Outcome], owner: str) -> None:
    """Write outcomes with one executemany per shape of update."""
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
            condition = and_(_TABLE.c.claimed_by == bindparam("b_owner"),
                             _TABLE.c.status == "SENDING")
        else:
            # Never move a row that a status callback already moved past SENT.
            # (Written as OR: an IN list cannot be used in an executemany.)
            condition = or_(_TABLE.c.status == "SENDING", _TABLE.c.status == "PENDING")
        statement = (
            update(_TABLE)
            .where(_TABLE.c.id == bindparam("b_id"), condition)
            .values({name: bindparam(f"v_{name}") for name in columns})
        )
        session.execute(statement, rows)
