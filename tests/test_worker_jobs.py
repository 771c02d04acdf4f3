"""The worker's gates in one process: job lock, period claim, run records, heartbeats."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.executors.base import run_job
from sqlalchemy import create_engine, select, text, update

from engine import db, health, heartbeats
from engine.metrics import JOB_MISSED, JOB_RUNS
from engine.models import JobPeriod, PipelineRun, ReplayState, WorkerHeartbeat
from engine.models.base import utcnow
from engine.settings import load_settings, reset_settings_cache
from scheduler import jobs, periods, runs
from scheduler.jobs import JobSpec
from scheduler.locks import job_lock, lock_id
from scheduler.outage import DatabaseOutage
from scheduler.periods import Schedule
from scheduler.runs import RunResult
from scheduler.service import build_scheduler
from scheduler.triggers import PeriodTrigger
from scheduler.worker import Worker

UTC = timezone.utc
T0 = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)


def _settings():
    reset_settings_cache()
    return load_settings()


def _sample(metric, **labels) -> float:
    return metric.labels(**labels)._value.get()


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _worker(worker_id: str, action=None, clock=None, interval: int = 60) -> Worker:
    def count_rows(_worker_id: str) -> RunResult:
        return RunResult({"alerts": 2, "retry": 0})

    spec = JobSpec("dispatch", action or count_rows, Schedule(timedelta(seconds=interval)),
                   interval)
    return Worker(_settings(), worker_id=worker_id, jobs=[spec], clock=clock or FixedClock(T0),
                  max_head_start=0)


def test_schedule_period_start():
    every_minute = Schedule(timedelta(minutes=1))
    daily = Schedule(timedelta(days=1), jobs.CLEANUP_ANCHOR)

    assert every_minute.period_start(T0) == T0
    assert every_minute.period_start(T0 + timedelta(seconds=59.9)) == T0
    assert every_minute.period_start(T0 - timedelta(microseconds=1)) == T0 - timedelta(minutes=1)
    assert daily.period_start(T0) == datetime(2026, 3, 2, 3, 17, tzinfo=UTC)
    assert daily.period_start(datetime(2026, 3, 2, 3, 16, tzinfo=UTC)) == \
        datetime(2026, 3, 1, 3, 17, tzinfo=UTC)
    assert every_minute.missed_between(T0, T0 + timedelta(minutes=5)) == 4
    assert every_minute.missed_between(T0, T0 + timedelta(minutes=1)) == 0


def test_vacuum_anchor_is_sunday():
    assert jobs.VACUUM_ANCHOR.weekday() == 6


def test_period_trigger_stays_on_boundaries():
    trigger = PeriodTrigger(Schedule(timedelta(seconds=5)))
    started = T0 + timedelta(seconds=2.3)

    first = trigger.get_next_fire_time(None, started)
    after_immediate_run = trigger.get_next_fire_time(started, started)
    on_boundary = trigger.get_next_fire_time(None, T0)

    assert first == T0 + timedelta(seconds=5)
    assert after_immediate_run == T0 + timedelta(seconds=5)
    assert trigger.get_next_fire_time(first, first) == T0 + timedelta(seconds=10)
    assert on_boundary == T0


def test_claim_period_once(pg_env):
    schedule = Schedule(timedelta(minutes=1))
    with db.session_scope() as session:
        first = periods.claim_period(session, "tick", schedule, T0, "a:1")
    with db.session_scope() as session:
        second = periods.claim_period(session, "tick", schedule, T0, "b:2")

    assert first.won
    assert not second.won
    assert second.holder == "a:1"
    with db.session_scope() as session:
        assert session.scalars(select(JobPeriod.worker_id)).all() == ["a:1"]


def test_claim_counts_missed_periods(pg_env):
    schedule = Schedule(timedelta(minutes=1))
    with db.session_scope() as session:
        periods.claim_period(session, "tick", schedule, T0, "a:1")
    with db.session_scope() as session:
        later = periods.claim_period(session, "tick", schedule, T0 + timedelta(minutes=4), "a:1")

    assert later.missed == 3
    assert later.previous == T0
    with db.session_scope() as session:
        stored = session.get(JobPeriod, ("tick", T0 + timedelta(minutes=4)))
        assert stored.missed_before == 3


def test_second_worker_stands_by_in_same_period(pg_env, caplog):
    first = _worker("a:1")
    second = _worker("b:2")
    standby_before = _sample(JOB_RUNS, job="dispatch", outcome="standby")

    with caplog.at_level(logging.INFO, logger="scheduler.worker"):
        outcomes = [first.run_job("dispatch"), second.run_job("dispatch")]

    assert outcomes == ["ok", "standby"]
    assert "worker b:2 standing by, a:1 already claimed this period" in caplog.text
    assert _sample(JOB_RUNS, job="dispatch", outcome="standby") == standby_before + 1
    with db.session_scope() as session:
        recorded = session.scalars(select(PipelineRun).where(PipelineRun.job == "dispatch")).all()
        claim = session.get(JobPeriod, ("dispatch", T0))
    assert len(recorded) == 1
    assert recorded[0].status == "ok"
    assert recorded[0].alerts == 2
    assert recorded[0].details == {"alerts": 2, "retry": 0}
    assert recorded[0].finished_at is not None
    assert claim.status == "ok"


def test_worker_stands_by_while_lock_held(pg_env, caplog):
    worker = _worker("b:2")

    with job_lock(pg_env, "dispatch") as held, caplog.at_level(logging.INFO):
        outcome = worker.run_job("dispatch")

    assert held
    assert outcome == "standby"
    assert "another worker is running it" in caplog.text
    with db.session_scope() as session:
        assert session.scalars(select(JobPeriod)).all() == []


def test_next_period_runs_again(pg_env):
    clock = FixedClock(T0)
    worker = _worker("a:1", clock=clock)

    first = worker.run_job("dispatch")
    clock.now = T0 + timedelta(minutes=1, seconds=3)
    second = worker.run_job("dispatch")

    assert (first, second) == ("ok", "ok")
    with db.session_scope() as session:
        starts = session.scalars(select(JobPeriod.period_start).order_by(JobPeriod.period_start))
        assert list(starts) == [T0, T0 + timedelta(minutes=1)]


def test_failed_run_recorded(pg_env, caplog):
    def broken(_worker_id: str) -> RunResult:
        raise ValueError("customer c-9 has no lane")

    worker = _worker("a:1", action=broken)
    failed_before = _sample(JOB_RUNS, job="dispatch", outcome="failed")

    with caplog.at_level(logging.ERROR):
        outcome = worker.run_job("dispatch")
        worker._clock.now = T0 + timedelta(minutes=1)
        worker.run_job("dispatch")

    assert outcome == "failed"
    assert _sample(JOB_RUNS, job="dispatch", outcome="failed") == failed_before + 2
    with db.session_scope() as session:
        recorded = session.scalars(select(PipelineRun).order_by(PipelineRun.id)).all()
        claim = session.get(JobPeriod, ("dispatch", T0))
    assert [r.status for r in recorded] == ["failed", "failed"]
    assert recorded[0].error == "ValueError: customer c-9 has no lane"
    assert claim.status == "failed"
    assert claim.error == "ValueError: customer c-9 has no lane"
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1
    assert "the same error again" in caplog.records[-1].getMessage()


def test_missed_periods_counted(pg_env, caplog):
    clock = FixedClock(T0)
    worker = _worker("a:1", clock=clock)
    missed_before = _sample(JOB_MISSED, job="dispatch")

    worker.run_job("dispatch")
    clock.now = T0 + timedelta(minutes=5, seconds=1)
    with caplog.at_level(logging.WARNING):
        worker.run_job("dispatch")

    assert _sample(JOB_MISSED, job="dispatch") == missed_before + 4
    assert "job dispatch missed 4 periods" in caplog.text


def test_reap_abandoned_runs(pg_env):
    now = utcnow()
    with db.session_scope() as session:
        heartbeats.beat(session, "alive:1", "standby", now)
        heartbeats.beat(session, "gone:2", "leader", now - timedelta(minutes=10))
        for worker_id in ("alive:1", "gone:2", "me:3", None):
            session.add(PipelineRun(job="tick", worker_id=worker_id, status="running"))
    with db.session_scope() as session:
        reaped = runs.reap_abandoned(session, "tick", "me:3", now - timedelta(minutes=3))

    assert reaped == 2
    with db.session_scope() as session:
        states = dict(session.execute(select(PipelineRun.worker_id, PipelineRun.status)).all())
    assert states == {"alive:1": "running", "gone:2": "failed", "me:3": "failed",
                      None: "running"}


def test_reap_spares_current_claim(pg_env):
    now = utcnow()
    earlier, current = T0 - timedelta(minutes=1), T0
    with db.session_scope() as session:
        for period in (earlier, current):
            session.add(JobPeriod(job="tick", period_start=period, worker_id="me:3"))
    with db.session_scope() as session:
        runs.reap_abandoned(session, "tick", "me:3", now - timedelta(minutes=3), current)

    with db.session_scope() as session:
        states = dict(session.execute(
            select(JobPeriod.period_start, JobPeriod.status).order_by(JobPeriod.period_start)
        ).all())
    assert list(states.values()) == ["failed", "running"]


def test_heartbeat_reaps_own_leftovers(pg_env):
    worker = _worker("me:3")
    earlier = utcnow() - timedelta(seconds=5)
    with db.session_scope() as session:
        session.add(PipelineRun(job="dispatch", worker_id="me:3", status="running",
                                started_at=earlier))
        session.add(PipelineRun(job="tick", worker_id="me:3", status="running",
                                started_at=earlier))
    worker._busy.add("tick")

    worker.heartbeat()

    with db.session_scope() as session:
        states = dict(session.execute(select(PipelineRun.job, PipelineRun.status)).all())
        beat = session.get(WorkerHeartbeat, "me:3")
    assert states == {"dispatch": "failed", "tick": "running"}
    assert beat.role == "starting"
    assert beat.pid == 3
    assert worker.last_beat is not None


def test_replay_day_done(pg_env):
    settings = _settings()
    day = datetime(2023, 12, 15, tzinfo=UTC)
    with db.session_scope() as session:
        assert not jobs.replay_day_done(session, settings)
        session.add(ReplayState(id=1, replay_at=day))
        session.flush()
        assert not jobs.replay_day_done(session, settings)
        session.add(PipelineRun(job="tick", status="failed", replay_at=day + timedelta(days=1)))
        session.add(PipelineRun(job="tick", status="ok", replay_at=day,
                                started_at=utcnow() - timedelta(minutes=1)))
        session.flush()
        assert jobs.replay_day_done(session, settings)


def test_health_reports_stale_worker(pg_env, monkeypatch):
    monkeypatch.setenv("WORKER_HEARTBEAT_STALE_SECONDS", "30")
    reset_settings_cache()
    now = utcnow()
    with db.session_scope() as session:
        heartbeats.beat(session, "old:1", "leader", now - timedelta(seconds=45))
        heartbeats.beat(session, "gone:2", "stopped", now - timedelta(seconds=2))

    stale = health.full_health()
    with db.session_scope() as session:
        heartbeats.beat(session, "new:3", "standby", utcnow())
    fresh = health.full_health()

    assert stale["worker"]["state"] == "stale"
    assert stale["worker"]["heartbeat_age_seconds"] >= 45
    assert {w["worker_id"]: w["state"] for w in stale["worker"]["workers"]} == \
        {"old:1": "stale", "gone:2": "stopped"}
    assert stale["status"] in ("degraded", "down")
    assert fresh["worker"]["state"] == "ok"
    assert fresh["worker"]["heartbeat_age_seconds"] < 30


def test_forget_old_heartbeats(pg_env):
    now = utcnow()
    with db.session_scope() as session:
        heartbeats.beat(session, "ancient:1", "stopped", now - timedelta(days=8))
        heartbeats.beat(session, "recent:2", "leader", now)
    with db.session_scope() as session:
        assert heartbeats.forget_old(session, now) == 1
        assert session.scalars(select(WorkerHeartbeat.worker_id)).all() == ["recent:2"]


def test_prune_claims_keeps_newest(pg_env):
    schedule = Schedule(timedelta(days=1))
    old = T0 - timedelta(days=30)
    with db.session_scope() as session:
        for day in range(3):
            periods.claim_period(session, "vacuum", schedule, old + timedelta(days=day), "a:1")
        periods.claim_period(session, "tick", schedule, old, "a:1")
        periods.claim_period(session, "tick", schedule, T0, "a:1")
    with db.session_scope() as session:
        deleted = periods.prune_claims(session, T0)
        left = session.execute(select(JobPeriod.job, JobPeriod.period_start)
                               .order_by(JobPeriod.job)).all()

    assert deleted == 3
    assert left == [("tick", T0), ("vacuum", old + timedelta(days=2))]


def test_cleanup_job_records_run(pg_env):
    worker = Worker(_settings(), worker_id="a:1", max_head_start=0,
                    jobs=[s for s in jobs.build_jobs(_settings()) if s.name == "cleanup"])

    assert worker.run_job("cleanup") == "ok"
    with db.session_scope() as session:
        run = session.scalars(select(PipelineRun)).one()
    assert run.job == "cleanup"
    assert run.status == "ok"
    assert run.details["decisions"] == 0


def test_vacuum_job_runs(pg_env):
    worker = Worker(_settings(), worker_id="a:1", max_head_start=0,
                    jobs=[s for s in jobs.build_jobs(_settings()) if s.name == "vacuum"])

    assert worker.run_job("vacuum") == "ok"


def test_vacuum_only_on_postgres(sqlite_env):
    names = [spec.name for spec in jobs.build_jobs(_settings())]

    assert names == ["tick", "dispatch", "cleanup"]


def test_scheduler_job_options(pg_env):
    settings = _settings()
    scheduler = build_scheduler(Worker(settings, worker_id="a:1"))

    scheduled = {job.id: job for job in scheduler.get_jobs()}

    assert set(scheduled) == {"tick", "dispatch", "cleanup", "vacuum", "heartbeat"}
    for job in scheduled.values():
        assert job.coalesce is True
        assert job.max_instances == 1
    assert scheduled["tick"].misfire_grace_time == settings.PIPELINE_INTERVAL_SECONDS
    assert scheduled["tick"].trigger.schedule.interval == \
        timedelta(seconds=settings.PIPELINE_INTERVAL_SECONDS)


def test_pipeline_interval_setting(pg_env, monkeypatch):
    monkeypatch.setenv("PIPELINE_INTERVAL_SECONDS", "7")

    tick = next(s for s in jobs.build_jobs(_settings()) if s.name == "tick")

    assert tick.schedule.interval == timedelta(seconds=7)
    assert tick.misfire_grace_seconds == 7


def test_late_run_within_grace_still_runs(pg_env):
    worker = _worker("a:1", clock=utcnow, interval=60)
    scheduler = build_scheduler(worker)
    job = scheduler.get_job("dispatch")
    now = datetime.now(UTC)

    late = run_job(job, "default", [now - timedelta(seconds=50)], "test")
    too_late = run_job(job, "default", [now - timedelta(seconds=61)], "test")

    assert [event.code for event in late] == [EVENT_JOB_EXECUTED]
    assert late[0].retval == "ok"
    assert [event.code for event in too_late] == [EVENT_JOB_MISSED]


def test_outage_logged_once(caplog):
    outage = DatabaseOutage("a:1", clock=iter([100.0, 190.0]).__next__)
    error = RuntimeError("connection refused")

    with caplog.at_level(logging.DEBUG, logger="scheduler.outage"):
        outage.failed("heartbeat", error)
        outage.failed("job tick", error)
        outage.failed("job dispatch", error)
        outage.recovered()
        outage.recovered()

    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    recoveries = [r for r in caplog.records if "available again" in r.getMessage()]
    assert len(errors) == 1
    assert "database unavailable" in errors[0].getMessage()
    assert len(recoveries) == 1
    assert "after 90 s and 3 failed attempts" in recoveries[0].getMessage()
    assert not outage.active


def test_database_unavailable_classified(pg_database_url):
    from tests.fleet_helpers import free_port

    closed = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x",
                           connect_args={"connect_timeout": 2})
    live = create_engine(pg_database_url)
    try:
        with pytest.raises(Exception) as refused:
            closed.connect()
        with pytest.raises(Exception) as bad_sql, live.connect() as connection:
            connection.execute(text("SELECT * FROM no_such_table"))
    finally:
        closed.dispose()
        live.dispose()

    assert db.is_database_unavailable(refused.value)
    assert not db.is_database_unavailable(bad_sql.value)
    assert not db.is_database_unavailable(ValueError("x"))


def test_job_lock_released_with_dead_connection(pg_env):
    other = pg_env.connect()
    try:
        with job_lock(pg_env, "tick") as held:
            pid = other.execute(
                text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = :id"),
                {"id": lock_id("tick")},
            ).scalar()
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            other.commit()
        free = other.execute(text("SELECT pg_try_advisory_lock(:id)"),
                             {"id": lock_id("tick")}).scalar()
        other.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id("tick")})
        other.commit()
    finally:
        other.close()

    assert held
    assert free


def test_job_lock_waits_then_gives_up(pg_env):
    release = threading.Event()

    def hold() -> None:
        with job_lock(pg_env, "tick"):
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        while not _lock_taken(pg_env):
            pass
        with job_lock(pg_env, "tick", wait_seconds=0.3) as held:
            pass
    finally:
        release.set()
        holder.join()

    assert not held


def _lock_taken(engine) -> bool:
    with engine.connect() as connection:
        return bool(connection.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :id"),
            {"id": lock_id("tick")},
        ).scalar())


def test_file_lock_on_sqlite(sqlite_env):
    with job_lock(sqlite_env, "tick") as first, job_lock(sqlite_env, "tick") as second:
        pass

    assert first
    assert not second


def test_migration_lock_timeout(pg_env):
    holder = pg_env.connect()
    holder.execute(text("SELECT pg_advisory_lock(:id)"), {"id": db.MIGRATION_LOCK_ID})
    holder.commit()
    try:
        with pytest.raises(db.MigrationLockTimeoutError) as waited:
            with db.migration_lock(pg_env, timeout=0.3):
                pass
    finally:
        holder.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": db.MIGRATION_LOCK_ID})
        holder.commit()
        holder.close()

    assert str(db.MIGRATION_LOCK_ID) in str(waited.value)
    assert "pg_locks" in str(waited.value)


def test_running_holder_named(pg_env):
    schedule = Schedule(timedelta(minutes=1))
    with db.session_scope() as session:
        periods.claim_period(session, "tick", schedule, T0, "a:1")
        periods.claim_period(session, "tick", schedule, T0 + timedelta(minutes=1), "b:2")
        session.execute(update(JobPeriod).where(JobPeriod.worker_id == "b:2")
                        .values(status="ok"))
    with db.session_scope() as session:
        assert periods.running_holder(session, "tick") == "a:1"


def test_stale_threshold_must_exceed_heartbeat():
    from engine.settings import SettingsError

    with pytest.raises(SettingsError) as invalid:
        load_settings({"WORKER_HEARTBEAT_SECONDS": "20", "WORKER_HEARTBEAT_STALE_SECONDS": "20"})

    assert "WORKER_HEARTBEAT_STALE_SECONDS='20' is invalid" in str(invalid.value)
    assert "WORKER_HEARTBEAT_SECONDS (20)" in str(invalid.value)
