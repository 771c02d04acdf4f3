"""One pipeline tick: OMEN -> ORACLE -> RISKCAST -> ALERTER, in one transaction.

Everything a tick writes (signals, observations, decisions and the alerts they
cause) commits together, so a failure mid-tick leaves no partial rows and the
next tick redoes the work. Sending happens afterwards, from the outbox.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from engine import book, ingest
from engine.clock import advance_replay, domain_now, ensure_replay_state
from engine.db import session_scope
from engine.decisions import lifecycle, outcomes, service
from engine.decisions.config import DecisionConfig
from engine.models import PipelineRun
from engine.models.base import utcnow
from engine.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass
class TickSummary:
    replay_at: str
    signals: int
    observations: int
    decisions: int
    alerts: int
    expired: int
    seconds: float

    def line(self) -> str:
        return (
            f"tick at {self.replay_at}: {self.signals} signals, {self.observations} "
            f"observations, {self.decisions} decisions, {self.alerts} alerts, "
            f"{self.expired} expired, {self.seconds:.2f}s"
        )


def run_tick(session: Session, settings: Settings, advance: bool = False) -> TickSummary:
    started = time.perf_counter()
    if settings.SOURCE_MODE == "replay":
        as_of = advance_replay(session, settings) if advance else ensure_replay_state(session, settings)
    else:
        as_of = domain_now(session, settings)

    signals, observations = ingest.run(session, settings, as_of)
    book.refresh_statuses(session, as_of)
    expired = lifecycle.cleanup_expired(session, as_of)
    outcomes.record_outcomes(session, as_of)

    decided = service.decide(session, as_of, DecisionConfig.from_settings(settings), alerts=True)

    return TickSummary(
        replay_at=as_of.isoformat(),
        signals=signals,
        observations=observations,
        decisions=decided.changed,
        alerts=decided.alerts,
        expired=expired.removed,
        seconds=round(time.perf_counter() - started, 3),
    )


def tick(advance: bool = False, worker_id: str | None = None) -> TickSummary:
    """Run one tick in its own transaction and record it in ``pipeline_runs``."""
    settings = get_settings()
    with session_scope() as session:
        run = PipelineRun(job="tick", worker_id=worker_id, status="running")
        session.add(run)
        session.flush()
        run_id = run.id
    try:
        with session_scope() as session:
            summary = run_tick(session, settings, advance=advance)
    except Exception as exc:
        with session_scope() as session:
            run = session.get(PipelineRun, run_id)
            run.status = "failed"
            run.finished_at = utcnow()
            run.error = f"{type(exc).__name__}: {exc}"[:2000]
        raise
    with session_scope() as session:
        run = session.get(PipelineRun, run_id)
        run.status = "ok"
        run.finished_at = utcnow()
        run.replay_at = datetime.fromisoformat(summary.replay_at)
        run.signals = summary.signals
        run.observations = summary.observations
        run.decisions = summary.decisions
        run.alerts = summary.alerts
        run.duration_seconds = summary.seconds
        run.details = asdict(summary)
    log.debug("%s", summary.line())
    return summary
