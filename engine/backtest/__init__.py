"""Backtest of the decision engine on the bundled 2023-24 Red Sea history.

``python -m engine.backtest --out DIR`` replays January 2023 to March 2024
day by day against the demo book and writes ``report.md``, ``daily.csv``,
``chokepoints.csv``, ``decisions.csv`` and ``report.html`` to DIR. Its last
output line is ``lead_time_days=N``: the days between the first HIGH or
CRITICAL REROUTE for a shipment bound through Bab el-Mandeb and the first
day the 7-day mean of Bab el-Mandeb transits falls below half its 2023 mean.
"""

from __future__ import annotations

import logging
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import event

from engine.backtest import runner
from engine.backtest.runner import BacktestResult
from engine.db import build_engine, migrate, session_scope
from engine.decisions import outcomes
from engine.decisions.config import DecisionConfig
from engine.settings import get_settings, load_settings

log = logging.getLogger(__name__)

DEFAULT_START = date(2023, 1, 1)
DEFAULT_END = date(2024, 3, 31)


class BacktestError(RuntimeError):
    """Raised when the backtest cannot run with the given options."""


def run_backtest(start: date = DEFAULT_START, end: date = DEFAULT_END,
                 database_url: str | None = None, customers: int | None = None,
                 seed: int | None = None) -> BacktestResult:
    """Replay ``start`` to ``end`` and return the daily figures and every decision."""
    from engine import book

    if end < start:
        raise BacktestError(f"end {end} is before start {start}; give an end on or after it")
    customers = book.DEFAULT_CUSTOMERS if customers is None else customers
    seed = book.DEFAULT_SEED if seed is None else seed
    config = DecisionConfig.from_settings(get_settings())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="riskcast-backtest-") as folder:
        url = database_url or f"sqlite:///{Path(folder) / 'backtest.db'}"
        engine = build_engine(load_settings({"DATABASE_URL": url}))
        if database_url is None:
            event.listen(engine, "connect", _skip_fsync)
        try:
            migrate(engine)
            _require_empty(engine)
            daily, per_chokepoint, first_seen = runner.run_days(
                engine, start, end, config, customers, seed
            )
            decisions = runner.decision_frame(engine, first_seen)
            with session_scope(engine) as session:
                scores = outcomes.source_scores(session)
        finally:
            engine.dispose()

    transits = runner.transit_series()
    baseline, drop = runner.drop_day(transits, start)
    return BacktestResult(
        start=start, end=end,
        daily=pd.DataFrame(daily), chokepoints=pd.DataFrame(per_chokepoint),
        decisions=decisions, transits=transits, baseline_2023=baseline, drop_day=drop,
        first_reroute_day=runner.first_severe_reroute(decisions),
        quiet_severe_reroutes=runner.quiet_severe_reroutes(decisions),
        scores=scores, seconds=round(time.perf_counter() - started, 1),
    )


def _skip_fsync(dbapi_connection, _record) -> None:
    # The temporary database is thrown away, so durability buys nothing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def _require_empty(engine) -> None:
    from sqlalchemy import func, select

    from engine.models import Customer, Decision

    with session_scope(engine) as session:
        used = session.scalar(select(func.count()).select_from(Decision)) or session.scalar(
            select(func.count()).select_from(Customer)
        )
    if used:
        raise BacktestError(
            "the backtest database already contains customers or decisions; point "
            "--database-url at an empty database or leave it out to use a temporary one"
        )
