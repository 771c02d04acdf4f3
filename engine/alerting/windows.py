"""WhatsApp's 24-hour customer service window, tracked from inbound messages.

Free text may only go to a recipient who wrote to us in the last 24 hours;
everyone else gets approved templates.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.clock import as_utc
from engine.models import ConversationWindow

WINDOW = timedelta(hours=24)
# Treat the window as closed a little early, so that a message queued at
# 23:59 of the window does not reach WhatsApp after it closed.
SAFETY_MARGIN = timedelta(minutes=5)


def is_open(window: ConversationWindow | None, now: datetime) -> bool:
    if window is None:
        return False
    last = as_utc(window.last_inbound_at)
    if window.closed_at is not None and as_utc(window.closed_at) >= last:
        return False
    return as_utc(now) < last + WINDOW - SAFETY_MARGIN


def open_recipients(session: Session, recipients: Iterable[str], now: datetime) -> set[str]:
    """Return the recipients among ``recipients`` whose window is open at ``now``."""
    candidates = set(recipients)
    if not candidates:
        return set()
    rows = session.scalars(
        select(ConversationWindow).where(ConversationWindow.recipient.in_(candidates))
    )
    return {row.recipient for row in rows if is_open(row, now)}


def record_inbound(session: Session, recipient: str, body: str, at: datetime) -> None:
    """Open (or extend) the recipient's window from an inbound message.

    It is an upsert, so two messages from a new recipient that arrive together do
    not collide on the primary key. An older message never moves the window back.
    """
    table = ConversationWindow.__table__
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(
        recipient=recipient, last_inbound_at=at, last_body=body[:1000]
    )
    newer = statement.excluded.last_inbound_at > table.c.last_inbound_at
    statement = statement.on_conflict_do_update(
        index_elements=["recipient"],
        set_={
            "last_inbound_at": case((newer, statement.excluded.last_inbound_at),
                                    else_=table.c.last_inbound_at),
            "last_body": case((newer, statement.excluded.last_body), else_=table.c.last_body),
        },
    )
    session.execute(statement)


def mark_closed(session: Session, recipient: str, at: datetime) -> None:
    """Record that Twilio found the window closed (error 63016) at ``at``."""
    window = session.get(ConversationWindow, recipient, with_for_update=True)
    if window is not None:
        window.closed_at = at
