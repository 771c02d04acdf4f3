"""Run the decision step: assess events, then draft and upsert decisions."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import breakers
from engine.alerting import outbox
from engine.clock import as_utc, domain_now
from engine.decisions import events as event_assessment
from engine.decisions import lifecycle
from engine.decisions.config import DecisionConfig
from engine.decisions.events import ChokepointEvent
from engine.decisions.generate import Previous, iter_drafts
from engine.decisions.shipments import customer_parts, load_open_shipments
from engine.models import Customer, Decision
from engine.settings import Settings

log = logging.getLogger(__name__)


class UnknownCustomerError(LookupError):
    """Raised when decisions are requested for a customer id that does not exist."""


@dataclass
class DecideResult:
    as_of: datetime
    events: dict[str, ChokepointEvent] = field(default_factory=dict)
    drafts: int = 0
    created: list[lifecycle.Change] = field(default_factory=list)
    updated_ids: list[int] = field(default_factory=list)
    unchanged: int = 0
    alerts: int = 0

    @property
    def changed(self) -> int:
        """Decisions created or changed, as ``decisions_generated_total`` counts them."""
        return len(self.created) + len(self.updated_ids)


def circuit_states() -> dict[str, str]:
    return {name: state["state"] for name, state in breakers.snapshot().items()}


def decide(session: Session, as_of: datetime, config: DecisionConfig | None = None,
           customer_id: str | None = None, circuits: dict[str, str] | None = None,
           alerts: bool = False) -> DecideResult:
    """Assess every chokepoint at ``as_of`` and upsert the resulting decisions.

    With ``alerts``, each batch of new versions is queued in the outbox as
    soon as it is stored, so a large book never keeps every new row in memory at once.
    """
    config = config or DecisionConfig.from_settings()
    events = event_assessment.assess(session, as_of)
    circuits = circuit_states() if circuits is None else circuits
    previous = _active_versions(session, events)
    result = DecideResult(as_of, events)
    active = {c for c, e in events.items() if e.probability >= config.min_probability}
    if not active:
        return result
    if customer_id is not None:
        parts = [(customer_id, customer_id)]
    else:
        parts = customer_parts(session, as_of, config.horizon, through=active)
    # Drafting is pure computation and storing mostly waits on PostgreSQL,
    # which releases the GIL, so one thread drafts part k + 1 while this one
    # stores part k. The session stays on this thread.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drafting") as drafting:
        pending = None
        for part in parts:
            # No reference to the frame stays here, so it is freed once its
            # part is drafted.
            ahead = drafting.submit(
                _draft_part, events,
                load_open_shipments(session, as_of, config.horizon, through=active,
                                    customers=part),
                as_of, circuits, config, previous,
            )
            if pending is not None:
                for batch in pending.result():
                    _store(session, batch, config, alerts, result)
            pending = ahead
        if pending is not None:
            for batch in pending.result():
                _store(session, batch, config, alerts, result)
    return result


def _draft_part(events, shipments, as_of, circuits, config, previous) -> list:
    return list(iter_drafts(events, shipments, as_of, circuits, config, previous))


def _store(session: Session, batch, config: DecisionConfig, alerts: bool,
           result: DecideResult) -> None:
    stored = lifecycle.upsert_detailed(session, batch.drafts, config.material_exposure_change)
    if alerts:
        result.alerts += outbox.enqueue(session, stored.created)
    for change in stored.created:
        change.row = None
    result.drafts += len(batch.drafts) + batch.unchanged
    result.created.extend(stored.created)
    result.updated_ids.extend(stored.updated_ids)
    result.unchanged += stored.unchanged + batch.unchanged


def _active_versions(session: Session, events: dict) -> dict[tuple[str, str], Previous]:
    """Return the active decision per customer at each assessed chokepoint."""
    if not events:
        return {}
    rows = session.execute(
        select(Decision.customer_id, Decision.chokepoint, Decision.recommended_action,
               Decision.fingerprint, Decision.expires_at)
        .where(Decision.is_expired.is_(False), Decision.chokepoint.in_(sorted(events)))
    ).all()
    return {
        (r.customer_id, r.chokepoint): Previous(r.recommended_action, r.fingerprint,
                                                as_utc(r.expires_at))
        for r in rows
    }


def generate(session: Session, settings: Settings,
             customer_id: str | None = None) -> list[Decision]:
    """Regenerate decisions now; return the customer's (or every) active decision."""
    if customer_id is not None and session.get(Customer, customer_id) is None:
        raise UnknownCustomerError(
            f"customer {customer_id!r} not found; check the id or import the customer first"
        )
    as_of = domain_now(session, settings)
    result = decide(session, as_of, DecisionConfig.from_settings(settings), customer_id,
                    alerts=True)
    log.info("generate for %s at %s: %d created, %d updated", customer_id or "all customers",
             as_of.isoformat(), len(result.created), len(result.updated_ids))

    query = select(Decision).where(Decision.is_expired.is_(False))
    if customer_id is not None:
        query = query.where(Decision.customer_id == customer_id)
    return list(session.scalars(query.order_by(Decision.expected_loss_usd.desc())))
