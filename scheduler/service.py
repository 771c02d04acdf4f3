"""The worker process: the scheduler thread, its probes, and a graceful stop on SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import datetime, timezone

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.base import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from sqlalchemy import text

from engine.db import describe_error, get_engine, reset_engine
from engine.metrics import WORKER_HEARTBEAT_AGE
from engine.settings import Settings
from scheduler.probe import ProbeServer
from scheduler.triggers import PeriodTrigger
from scheduler.worker import Worker

log = logging.getLogger(__name__)

# Jobs that run as soon as the worker starts instead of waiting for the next
# period boundary; cleanup and VACUUM wait for their hour.
RUN_AT_START = ("tick", "dispatch")


def build_scheduler(worker: Worker) -> BlockingScheduler:
    """Schedule every job of ``worker`` plus its heartbeat.

    Coalescing turns a backlog of missed runs (after a suspend, or a blocked
    thread) into one run. A run that starts more than its grace time late is
    dropped in favour of the next period's. Each job runs one instance at a time.
    """
    scheduler = BlockingScheduler(
        timezone=timezone.utc,
        executors={"default": ThreadPoolExecutor(max_workers=len(worker.jobs) + 2)},
    )
    once = {"coalesce": True, "max_instances": 1}
    now = datetime.now(timezone.utc)
    for spec in worker.jobs.values():
        extra = {"next_run_time": now} if spec.name in RUN_AT_START else {}
        scheduler.add_job(worker.run_job, PeriodTrigger(spec.schedule), args=[spec.name],
                          id=spec.name, name=spec.name,
                          misfire_grace_time=spec.misfire_grace_seconds, **once, **extra)
    every = worker.settings.WORKER_HEARTBEAT_SECONDS
    scheduler.add_job(worker.heartbeat, IntervalTrigger(seconds=every, timezone=timezone.utc),
                      id="heartbeat", name="heartbeat", misfire_grace_time=every,
                      next_run_time=now, **once)
    scheduler.add_listener(_log_skipped_run, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
    return scheduler


def _log_skipped_run(event: JobEvent) -> None:
    # The next claimed period counts these fleet-wide (JOB_MISSED), so this
    # only logs what this worker's scheduler saw.
    if event.code == EVENT_JOB_MISSED:
        log.warning("job %s run scheduled at %s started later than its grace time and was "
                    "dropped; the next period's run catches up", event.job_id,
                    event.scheduled_run_time.isoformat())
    else:
        times = ", ".join(t.isoformat() for t in event.scheduled_run_times)
        log.warning("job %s run at %s skipped: its previous run is still going",
                    event.job_id, times)


class WorkerService:
    """One worker process: scheduler thread, probe listener, start and stop."""

    def __init__(self, settings: Settings, worker: Worker | None = None) -> None:
        self.settings = settings
        self.worker = worker or Worker(settings)
        self.scheduler = build_scheduler(self.worker)
        self.thread = threading.Thread(target=self._run_scheduler, name="scheduler",
                                       daemon=True)
        self.stop_requested = threading.Event()
        self.probes: ProbeServer | None = None

    def start(self) -> None:
        if self.settings.WORKER_HEALTH_PORT:
            self.probes = ProbeServer(self.settings.WORKER_HEALTH_PORT, self.liveness,
                                      self.readiness, self.metrics)
            self.probes.start()
        self.thread.start()
        log.info("worker %s started: jobs %s, tick every %d s", self.worker.worker_id,
                 ", ".join(self.worker.jobs), self.settings.PIPELINE_INTERVAL_SECONDS)

    def liveness(self) -> tuple[bool, dict]:
        """Fail only when the scheduler thread has died; a database outage is not fatal."""
        if self.stop_requested.is_set():
            return True, {"status": "stopping", "worker_id": self.worker.worker_id}
        if self.thread.is_alive() and self.scheduler.running:
            return True, {"status": "ok", "worker_id": self.worker.worker_id,
                          "busy_jobs": self.worker.busy_jobs()}
        return False, {"status": "dead", "worker_id": self.worker.worker_id,
                       "detail": "the scheduler thread has stopped; restart the worker"}

    def readiness(self) -> tuple[bool, dict]:
        try:
            with get_engine().connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:
            return False, {"status": "not ready", "database": describe_error(exc)}
        return True, {"status": "ready", "worker_id": self.worker.worker_id,
                      "role": self.worker.role}

    def metrics(self) -> tuple[bytes, str]:
        if self.worker.last_beat is not None:
            WORKER_HEARTBEAT_AGE.set(round(time.monotonic() - self.worker.last_beat, 1))
        return generate_latest(_registry(self.settings)), CONTENT_TYPE_LATEST

    def wait(self) -> int:
        """Block until a stop is requested (0) or the scheduler thread dies (1)."""
        while not self.stop_requested.wait(0.5):
            if not self.thread.is_alive():
                log.error("worker %s: the scheduler thread died; exiting so that the "
                          "process is restarted", self.worker.worker_id)
                return 1
        return 0

    def stop(self) -> None:
        """Let running jobs finish, start no new ones, then record the stop."""
        self.stop_requested.set()
        self.worker.stopping.set()
        busy = self.worker.busy_jobs()
        log.info("worker %s stopping: %s", self.worker.worker_id,
                 f"waiting for {', '.join(busy)} to finish" if busy else "no job running")
        try:
            self.scheduler.shutdown(wait=True)
        except SchedulerNotRunningError:
            pass
        self.thread.join(timeout=10)
        self.worker.mark_stopped()
        if self.probes is not None:
            self.probes.shutdown()
        reset_engine()
        log.info("worker %s stopped", self.worker.worker_id)

    def _run_scheduler(self) -> None:
        try:
            self.scheduler.start()
        except Exception:
            log.exception("worker %s: the scheduler thread failed", self.worker.worker_id)


def _registry(settings: Settings):
    if not settings.PROMETHEUS_MULTIPROC_DIR:
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    return registry


def run_forever(settings: Settings) -> int:
    """Run the worker until SIGTERM or SIGINT; return the process exit code."""
    service = WorkerService(settings)
    signals_seen = []

    def on_signal(signum: int, _frame) -> None:
        signals_seen.append(signum)
        if len(signals_seen) == 1:
            log.info("signal %s received: finishing the running jobs, then stopping",
                     signal.Signals(signum).name)
            service.stop_requested.set()
            return
        # A second signal means: stop now. Open transactions roll back when
        # the connections drop, and claimed alerts return to the queue after
        # their claim expires.
        log.warning("second signal %s received: exiting without waiting",
                    signal.Signals(signum).name)
        os._exit(1)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        service.start()
    except OSError as exc:
        log.error("worker %s cannot listen on WORKER_HEALTH_PORT=%d (%s); set it to a free "
                  "port, or to 0 to turn the probes off", service.worker.worker_id,
                  settings.WORKER_HEALTH_PORT, exc.strerror or exc)
        return 1
    code = service.wait()
    service.stop()
    return code
