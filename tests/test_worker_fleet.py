"""Several worker processes on one database: one tick per period, takeover, graceful stop."""

from __future__ import annotations

import re
import signal

import pytest
from sqlalchemy import select, text

from engine import book
from engine.db import session_scope
from engine.models import WorkerHeartbeat
from engine.pipeline import tick
from tests.fleet_helpers import (
    WorkerProcess,
    ok_periods,
    pg_waiting_on_lock,
    runs_per_period,
    stop_all,
    tick_claims,
    tick_runs,
    wait_for,
    worker_env,
)

pytestmark = pytest.mark.slow
INTERVAL = 3


@pytest.fixture
def fleet_db(pg_env, pg_database_url, redis_url):
    """The test database with the demo book and the first (slow, ingesting) tick done."""
    with session_scope() as session:
        book.load_demo_book(session)
    tick()
    return pg_env, worker_env(pg_database_url, redis_url, PIPELINE_INTERVAL_SECONDS=INTERVAL)


def _start(env: dict, tmp_path, count: int) -> list[WorkerProcess]:
    from tests.fleet_helpers import free_port

    return [WorkerProcess(dict(env, WORKER_HEALTH_PORT=str(free_port())), tmp_path, f"w{i}")
            for i in range(count)]


def _assert_one_run_per_period(engine) -> None:
    runs = [run for run in tick_runs(engine) if run.worker_id and ":" in run.worker_id]
    claims = tick_claims(engine)

    assert max(runs_per_period(runs, INTERVAL).values()) == 1
    assert len(runs) == len(claims)
    starts = [claim.period_start.timestamp() for claim in claims]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(gap % INTERVAL == 0 for gap in gaps)


def test_three_workers_take_over(fleet_db, tmp_path):
    engine, env = fleet_db
    workers = _start(env, tmp_path, 3)
    try:
        wait_for(lambda: ok_periods(engine) >= 4, 60, "four ticks by the fleet")
        leader_id = tick_claims(engine)[-1].worker_id
        leader = next(w for w in workers if leader_id.endswith(f":{w.pid}"))
        leader.signal(signal.SIGKILL)
        leader.wait()
        killed_at = len(tick_claims(engine))
        wait_for(lambda: ok_periods(engine) >= killed_at + 3, 60,
                 "three ticks after the leader was killed")
    finally:
        stop_all(workers)

    _assert_one_run_per_period(engine)
    claims = tick_claims(engine)
    last_by_leader = max(i for i, c in enumerate(claims) if c.worker_id == leader_id)
    takeover = claims[last_by_leader + 1]
    assert takeover.worker_id != leader_id
    assert takeover.status == "ok"
    assert (takeover.period_start - claims[last_by_leader].period_start).total_seconds() \
        == INTERVAL
    survivors = [w for w in workers if w is not leader]
    for worker in survivors:
        assert worker.process.returncode == 0, worker.log()
    standing_by = [w for w in workers if "job tick: worker" in w.log()
                   and "standing by" in w.log()]
    assert len(standing_by) >= 2


def test_sigterm_finishes_running_tick(fleet_db, tmp_path):
    engine, env = fleet_db
    blocker = engine.connect()
    blocker.execute(text("LOCK TABLE decisions IN ACCESS EXCLUSIVE MODE"))
    worker = WorkerProcess(env, tmp_path, "w0")
    try:
        wait_for(lambda: pg_waiting_on_lock(engine, "decisions"), 30,
                 "the worker's tick to block on the decisions table")
        worker.signal(signal.SIGTERM)
        # The dispatch job may be blocked on the same table and listed too.
        wait_for(lambda: re.search(r"waiting for [a-z, ]*\btick\b[a-z, ]* to finish",
                                   worker.log()), 10,
                 "the worker to announce it waits for the tick")
        still_running = worker.process.poll() is None
        blocker.rollback()
        code = worker.wait(30)
    finally:
        blocker.close()
        worker.stop(already_signalled=True)

    assert still_running
    assert code == 0, worker.log()
    runs = tick_runs(engine)
    assert [run.status for run in runs[1:]] == ["ok"]
    assert "stopped" in worker.log().splitlines()[-1]
    with session_scope() as session:
        roles = session.scalars(select(WorkerHeartbeat.role)).all()
    assert roles == ["stopped"]
