"""APScheduler jobs and the worker process around them."""

from __future__ import annotations

import logging
import os
import signal
import socket
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import text

from engine.alerting.dispatch import dispatch_once
from engine.clock import domain_now
from engine.db import get_engine, session_scope
from engine.decisions.lifecycle import cleanup_expired
from engine.models import WorkerHeartbeat
from engine.models.base import utcnow
from engine.pipeline import tick
from engine.settings import get_settings
from scheduler.locks import job_lock

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def beat(role: str) -> None:
    with session_scope() as session:
        row = session.get(WorkerHeartbeat, WORKER_ID)
        if row is None:
            row = WorkerHeartbeat(worker_id=WORKER_ID, hostname=socket.gethostname(),
                                  pid=os.getpid(), started_at=utcnow())
            session.add(row)
        row.role = role
        row.beat_at = utcnow()


class Worker:
    def __init__(self) -> None:
        self._first_tick = True

    def run_locked(self, job: str, action) -> None:
        with job_lock(get_engine(), job) as held:
            if not held:
                log.info("job %s is running on another worker; %s standing by", job, WORKER_ID)
                beat("standby")
                return
            beat("leader")
            action()

    def tick_job(self) -> None:
        def action() -> None:
            # The first tick after start repeats the current replay day, so a
            # restart never skips a day.
            tick(advance=not self._first_tick, worker_id=WORKER_ID)
            self._first_tick = False

        self.run_locked("tick", action)

    def dispatch_job(self) -> None:
        self.run_locked("dispatch", dispatch_once)

    def cleanup_job(self) -> None:
        def action() -> None:
            settings = get_settings()
            with session_scope() as session:
                cleanup_expired(session, domain_now(session, settings))

        self.run_locked("cleanup", action)

    def vacuum_job(self) -> None:
        engine = get_engine()
        if engine.dialect.name != "postgresql":
            return

        def action() -> None:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE decisions"))
            log.info("VACUUM ANALYZE decisions finished")

        self.run_locked("vacuum", action)


def build_scheduler(worker: Worker) -> BlockingScheduler:
    settings = get_settings()
    scheduler = BlockingScheduler(
        timezone=timezone.utc,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
    )
    now = datetime.now(timezone.utc)
    scheduler.add_job(worker.tick_job, "interval", seconds=settings.PIPELINE_INTERVAL_SECONDS,
                      id="tick", next_run_time=now)
    scheduler.add_job(worker.dispatch_job, "interval", seconds=settings.DISPATCH_INTERVAL_SECONDS,
                      id="dispatch", next_run_time=now + timedelta(seconds=2))
    scheduler.add_job(worker.cleanup_job, "cron", hour=3, minute=17, id="cleanup")
    scheduler.add_job(worker.vacuum_job, "cron", day_of_week="sun", hour=4, minute=7, id="vacuum")
    return scheduler


def run_forever() -> None:
    worker = Worker()
    scheduler = build_scheduler(worker)

    def stop(signum, _frame) -> None:
        log.info("signal %s received: finishing the running job, then stopping", signum)
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    log.info("worker %s started", WORKER_ID)
    try:
        scheduler.start()
    except KeyboardInterrupt:
        pass
    log.info("worker %s stopped", WORKER_ID)
