"""Fault scenarios for the worker fleet, with real processes and real PostgreSQL servers.

S3 two workers and the dashboard start together; S5 a worker is suspended;
S6 PostgreSQL restarts between and during a tick; S13 replicas migrate an
empty database at once; S14 PostgreSQL is down for a while. The scenarios
that stop PostgreSQL run their own throwaway server.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import create_engine, func, select, text, update

from engine import book, db
from engine.db import MIGRATION_LOCK_ID, session_scope
from engine.models import Alert, Customer, Signal
from engine.pipeline import tick
from engine.settings import reset_settings_cache
from tests.fleet_helpers import (
    ROOT,
    ThrowawayPostgres,
    WorkerProcess,
    free_port,
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
SENT_LINE = re.compile(r"simulated WhatsApp to \S+ for alert (\d+)")
TICK_FAILED = re.compile(r"ERROR scheduler\.worker: job tick period \S+ on worker \S+ failed")


def _load_book() -> None:
    with session_scope() as session:
        book.load_demo_book(session)
        # Quiet hours would hold some alerts back depending on the time of day
        # the test runs; these scenarios are about workers, not preferences.
        session.execute(update(Customer).values(quiet_hours_start=None, quiet_hours_end=None))


def _sent_alert_ids(workers: list[WorkerProcess]) -> Counter:
    return Counter(int(m) for w in workers for m in SENT_LINE.findall(w.log()))


def test_s3_two_workers_and_dashboard(pg_env, pg_database_url, redis_url, tmp_path):
    _load_book()
    tick()
    env = worker_env(pg_database_url, redis_url)
    workers = [WorkerProcess(dict(env, WORKER_HEALTH_PORT=str(free_port())), tmp_path, f"w{i}")
               for i in range(2)]
    dashboard = subprocess.run(
        [sys.executable, "-c",
         "from streamlit.testing.v1 import AppTest\n"
         "app = AppTest.from_file('app.py', default_timeout=60).run()\n"
         "assert not app.exception, app.exception\n"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    try:
        wait_for(lambda: ok_periods(pg_env) >= 5, 60, "five ticks by two workers")
        wait_for(lambda: _all_sent(pg_env), 30, "every alert sent")
    finally:
        stop_all(workers)

    assert dashboard.returncode == 0, dashboard.stderr
    runs = [run for run in tick_runs(pg_env) if ":" in (run.worker_id or "")]
    assert max(runs_per_period(runs, 3).values()) == 1
    assert len(runs) == len(tick_claims(pg_env))
    assert any("job tick: worker" in w.log() and "standing by" in w.log() for w in workers)
    sent = _sent_alert_ids(workers)
    with session_scope() as session:
        alert_ids = session.scalars(select(Alert.id).where(Alert.sent_at.is_not(None))).all()
    assert alert_ids
    assert sorted(sent) == sorted(alert_ids)
    assert set(sent.values()) == {1}


def _all_sent(engine) -> bool:
    with engine.connect() as connection:
        waiting = connection.execute(
            select(func.count()).select_from(Alert).where(Alert.status.in_(("PENDING", "SENDING")))
        ).scalar()
    return waiting == 0 and ok_periods(engine) >= 5


def test_s5_suspended_worker_catches_up_once(pg_env, pg_database_url, redis_url, tmp_path,
                                             monkeypatch):
    _load_book()
    tick()
    env = worker_env(pg_database_url, redis_url, PIPELINE_INTERVAL_SECONDS=2,
                     WORKER_HEARTBEAT_STALE_SECONDS=4)
    worker = WorkerProcess(env, tmp_path, "w0")
    try:
        wait_for(lambda: ok_periods(pg_env) >= 2, 40, "two ticks before the suspend")
        worker.signal(signal.SIGSTOP)
        # A claim whose commit was already on its way counts as before the stop.
        time.sleep(1)
        claims_before = len(tick_claims(pg_env))
        time.sleep(9)
        health_while_stopped = _full_health(monkeypatch, pg_database_url)
        claims_while_stopped = len(tick_claims(pg_env))
        worker.signal(signal.SIGCONT)
        resumed_at = time.time()
        wait_for(lambda: ok_periods(pg_env) >= claims_before + 2, 30,
                 "two ticks after resuming")
        missed_metric = worker.metric("riskcast_job_missed_total", job="tick")
        health_after = _full_health(monkeypatch, pg_database_url)
    finally:
        worker.stop()

    assert claims_while_stopped == claims_before
    assert health_while_stopped["worker"]["state"] == "stale"
    assert health_while_stopped["worker"]["workers"][0]["state"] == "stale"
    assert health_while_stopped["status"] == "degraded"
    assert health_after["worker"]["state"] == "ok"
    claims = tick_claims(pg_env)
    catch_up = claims[claims_before]
    skipped = int((catch_up.period_start - claims[claims_before - 1].period_start)
                  .total_seconds() // 2) - 1
    assert skipped >= 4
    assert catch_up.missed_before == skipped
    runs_after_resume = [r for r in tick_runs(pg_env) if r.started_at.timestamp() >= resumed_at]
    assert max(runs_per_period(runs_after_resume, 2).values()) == 1
    assert missed_metric == sum(claim.missed_before for claim in claims)
    assert f"job tick missed {skipped} periods" in worker.log()


def _full_health(monkeypatch, database_url: str) -> dict:
    from engine import health

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("WORKER_HEARTBEAT_SECONDS", "1")
    monkeypatch.setenv("WORKER_HEARTBEAT_STALE_SECONDS", "4")
    reset_settings_cache()
    return health.full_health()


@pytest.fixture
def own_postgres(redis_url, monkeypatch):
    """A throwaway PostgreSQL server with a migrated database holding the demo book."""
    server = ThrowawayPostgres()
    admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("CREATE DATABASE riskcast"))
    admin.dispose()
    url = server.url("riskcast")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    reset_settings_cache()
    db.reset_engine()
    db.migrate()
    _load_book()
    try:
        yield server, url
    finally:
        db.reset_engine()
        reset_settings_cache()
        server.destroy()


def test_s6_postgres_restarts_during_and_between_ticks(own_postgres, redis_url, tmp_path):
    server, url = own_postgres
    engine = db.get_engine()
    blocker = engine.connect()
    blocker.execute(text("LOCK TABLE decisions IN ACCESS EXCLUSIVE MODE"))
    worker = WorkerProcess(worker_env(url, redis_url, PIPELINE_INTERVAL_SECONDS=2), tmp_path,
                           "w0")
    try:
        wait_for(lambda: pg_waiting_on_lock(engine, "decisions"), 40,
                 "the first tick to block inside its transaction")
        server.restart()
        blocker.invalidate()
        wait_for(lambda: ok_periods(engine) >= 1, 40, "a tick after the restart")
        first_ok = next(run for run in tick_runs(engine) if run.status == "ok")
        log_after_restart_in_tick = worker.log()

        # Between ticks: the next tick and the next dashboard query succeed.
        server.restart()
        wait_for(lambda: ok_periods(engine) >= 3, 40, "two more ticks after a second restart")
        with session_scope() as session:
            from engine.queries import overview

            dashboard = overview(session)
        with engine.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
        with create_engine(server.url(), isolation_level="AUTOCOMMIT").connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with session_scope() as session:
            after_terminate = overview(session)
        wait_for(lambda: _no_alert_waiting(engine), 30, "every alert sent")
    finally:
        blocker.close()
        worker.stop()

    runs = tick_runs(engine)
    assert runs[0].status == "failed"
    assert runs[0].signals == 0
    assert first_ok.signals > 0
    with session_scope() as session:
        oldest_signal = session.scalar(select(func.min(Signal.ingested_at)))
        signal_count = session.scalar(select(func.count()).select_from(Signal))
        alert_ids = session.scalars(select(Alert.id).where(Alert.sent_at.is_not(None))).all()
    assert oldest_signal >= first_ok.started_at
    assert signal_count == first_ok.signals
    assert len(TICK_FAILED.findall(log_after_restart_in_tick)) == 1
    assert "database connection lost" in log_after_restart_in_tick
    assert dashboard["last_tick_status"] in ("ok", "running")
    assert after_terminate["active_decisions"] >= 0
    sent = _sent_alert_ids([worker])
    assert sorted(sent) == sorted(alert_ids)
    assert set(sent.values()) == {1}


def _no_alert_waiting(engine) -> bool:
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(Alert).where(Alert.status.in_(("PENDING", "SENDING")))
        ).scalar() == 0


def test_s14_scheduler_survives_postgres_outage(own_postgres, redis_url, tmp_path):
    server, url = own_postgres
    engine = db.get_engine()
    worker = WorkerProcess(worker_env(url, redis_url, PIPELINE_INTERVAL_SECONDS=2), tmp_path,
                           "w0")
    try:
        wait_for(lambda: ok_periods(engine) >= 2, 40, "two ticks before the outage")
        server.stop()
        down_at = time.time()
        live_during = []
        while time.time() < down_at + 8:
            live_during.append(worker.live())
            time.sleep(1)
        ready_during = worker.get("/ready")[0]
        server.start()
        claims_before = len(tick_claims(engine))
        wait_for(lambda: ok_periods(engine) >= claims_before + 2, 40,
                 "ticks to resume by themselves")
        live_after = worker.live()
        log = worker.log()
    finally:
        worker.stop()

    assert all(status == 200 for status, _ in live_during)
    assert all(body["status"] == "ok" for _, body in live_during)
    assert ready_during == 503
    assert live_after[0] == 200
    # The outage is announced once: by the job it broke, or by the first
    # heartbeat or claim that found the database gone.
    assert log.count("database unavailable") + log.count("database connection lost") == 1
    assert log.count("database available again") == 1
    assert worker.process.returncode == 0


def test_s13_replicas_migrate_empty_database_once(pg_database_url, tmp_path):
    admin = create_engine(pg_database_url, isolation_level="AUTOCOMMIT")
    name = "riskcast_s13"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_database_url.rsplit("/", 1)[0] + f"/{name}"
    empty = create_engine(url)
    holder = empty.connect()
    holder.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    holder.commit()
    env = worker_env(url, None)
    starters = {
        "worker": [sys.executable, "-m", "scheduler", "--once"],
        "dashboard": [sys.executable, "-c",
                      "from engine.logs import configure_logging\n"
                      "from engine.db import migrate\n"
                      "configure_logging()\nmigrate()\n"],
        "migration-job": [sys.executable, "-m", "alembic", "upgrade", "head"],
    }
    processes = {}
    try:
        for label, command in starters.items():
            log = open(tmp_path / f"{label}.log", "w")
            processes[label] = (subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                                 stderr=subprocess.STDOUT), log)
        wait_for(lambda: _migration_waiters(empty) == 3, 60,
                 "three processes waiting for the migration lock")
        holder.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
        holder.commit()
        codes = {label: process.wait(timeout=120) for label, (process, _) in processes.items()}
    finally:
        holder.close()
        for process, log in processes.values():
            if process.poll() is None:
                process.kill()
            log.close()
    logs = {label: (tmp_path / f"{label}.log").read_text() for label in starters}
    applied = [label for label, log in logs.items()
               if "migrations applied" in log or "Running upgrade" in log]
    current = db.current_revision(empty)
    empty.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()

    assert codes == {"worker": 0, "dashboard": 0, "migration-job": 0}, logs
    assert len(applied) == 1, logs
    assert current == db.head_revision()
    for label in ("worker", "dashboard"):
        if label not in applied:
            assert "schema already at head" in logs[label]
            assert "waiting" in logs[label]


def _migration_waiters(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                 "AND objid = :id AND NOT granted"), {"id": MIGRATION_LOCK_ID}
        ).scalar()
