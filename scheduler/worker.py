"""Run each scheduled job once per period across a fleet of workers.

A run goes through two gates. The job's lock (scheduler.locks) keeps two
workers from running the job at the same time. The period claim
(scheduler.periods) keeps a second worker from running it again in the same
period after the first finished. The worker that ran the previous period
reaches the gates first, so one worker stays the leader while it lives. The
others stand by.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from engine import heartbeats
from engine.db import (
    describe_error,
    first_database_error,
    get_engine,
    is_database_unavailable,
    session_scope,
)
from engine.metrics import JOB_MISSED, JOB_RUNS, TICK_DURATION, TICKS
from engine.models.base import utcnow
from engine.settings import Settings
from scheduler import periods, runs
from scheduler.jobs import JobSpec, build_jobs
from scheduler.locks import job_lock
from scheduler.outage import DatabaseOutage
from scheduler.periods import Claim
from scheduler.runs import RunResult

log = logging.getLogger(__name__)

# A worker that did not run a job's previous period waits this share of the
# interval (at most MAX_HEAD_START seconds) before trying, so the last
# period's runner keeps the job while it is alive.
HEAD_START_SHARE = 0.1
MAX_HEAD_START = 1.0


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Worker:
    """The jobs of one worker process and its state between runs."""

    def __init__(self, settings: Settings, worker_id: str | None = None,
                 jobs: Iterable[JobSpec] | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 max_head_start: float = MAX_HEAD_START) -> None:
        self.settings = settings
        self.worker_id = worker_id or heartbeats.current_worker_id()
        specs = build_jobs(settings) if jobs is None else jobs
        self.jobs = {spec.name: spec for spec in specs}
        self.stopping = threading.Event()
        self.outage = DatabaseOutage(self.worker_id)
        self.last_beat: float | None = None
        self._clock = clock
        self._max_head_start = max_head_start
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()
        self._roles: dict[str, str] = {}
        self._last_period: dict[str, datetime] = {}
        # The last unexpected error per job (and for the heartbeat), to log repeats briefly.
        self._errors: dict[str, str] = {}

    @property
    def role(self) -> str:
        """Return the role shown in the heartbeat: the worker's role for the pipeline tick."""
        if self.stopping.is_set():
            return "stopping"
        return self._roles.get("tick", "starting")

    def busy_jobs(self) -> list[str]:
        with self._busy_lock:
            return sorted(self._busy)

    def run_job(self, name: str) -> str:
        """Run job ``name`` for the current period unless another worker does.

        Returns the outcome: ok, failed, standby, unavailable (no database)
        or skipped (the worker is stopping).
        """
        spec = self.jobs[name]
        if self.stopping.is_set():
            return "skipped"
        period = spec.schedule.period_start(self._clock())
        if self._last_period.get(name) != period - spec.schedule.interval:
            if self.stopping.wait(self._head_start(spec)):
                return "skipped"
            period = spec.schedule.period_start(self._clock())

        try:
            with job_lock(get_engine(), name) as held:
                if not held:
                    with session_scope() as session:
                        holder = periods.running_holder(session, name)
                    self.outage.recovered()
                    reason = f"{holder or 'another worker'} is running it"
                    return self._stand_by(spec, period, reason)

                # Busy before the claim exists, so the heartbeat never takes the
                # fresh claim row for a leftover of this worker.
                with self._busy_lock:
                    self._busy.add(name)
                try:
                    claim = self._claim(spec, period)
                    self.outage.recovered()
                    if not claim.won:
                        # The claim records who took the period, not that its run finished.
                        return self._stand_by(spec, period,
                                              f"{claim.holder} already claimed this period")
                    return self._execute(spec, claim)
                finally:
                    with self._busy_lock:
                        self._busy.discard(name)
        except Exception as exc:
            if is_database_unavailable(exc):
                self.outage.failed(f"job {name} period {iso(period)}", exc)
                return "unavailable"
            self._log_error(name, exc, "job %s period %s on worker %s could not start",
                            name, iso(period), self.worker_id)
            return "failed"

    def heartbeat(self) -> None:
        """Write this worker's heartbeat and mark its own abandoned runs failed."""
        now = utcnow()
        busy = self.busy_jobs()
        try:
            with session_scope() as session:
                heartbeats.beat(session, self.worker_id, self.role, now)
                abandoned = runs.reap_own(session, self.worker_id, busy, now)
        except Exception as exc:
            if is_database_unavailable(exc):
                self.outage.failed("heartbeat", exc)
            else:
                self._log_error("heartbeat", exc, "worker %s heartbeat failed", self.worker_id)
            return
        self._errors.pop("heartbeat", None)
        self.last_beat = time.monotonic()
        self.outage.recovered()
        if abandoned:
            log.warning("worker %s marked %d of its own unfinished runs failed",
                        self.worker_id, abandoned)

    def mark_stopped(self) -> None:
        try:
            with session_scope() as session:
                heartbeats.beat(session, self.worker_id, "stopped", utcnow())
        except Exception as exc:
            log.warning("worker %s could not record that it stopped: %s",
                        self.worker_id, describe_error(exc))

    def _head_start(self, spec: JobSpec) -> float:
        share = spec.schedule.interval.total_seconds() * HEAD_START_SHARE
        return min(self._max_head_start, share)

    def _claim(self, spec: JobSpec, period: datetime) -> Claim:
        stale_before = utcnow() - timedelta(seconds=self.settings.WORKER_HEARTBEAT_STALE_SECONDS)
        with session_scope() as session:
            claim = periods.claim_period(session, spec.name, spec.schedule, period, self.worker_id)
            if claim.won:
                abandoned = runs.reap_abandoned(session, spec.name, self.worker_id, stale_before,
                                                claim.period_start)
                if abandoned:
                    log.warning("job %s: marked %d abandoned runs failed", spec.name, abandoned)
        return claim

    def _execute(self, spec: JobSpec, claim: Claim) -> str:
        name = spec.name
        if claim.missed:
            JOB_MISSED.labels(name).inc(claim.missed)
            log.warning("job %s missed %d periods between %s and %s: no worker ran them; "
                        "this run catches up once", name, claim.missed,
                        iso(claim.previous), iso(claim.period_start))
        self._set_role(name, "leader")
        self._last_period[name] = claim.period_start
        started = time.perf_counter()
        run_id = None
        try:
            if not spec.records_itself:
                with session_scope() as session:
                    run_id = runs.start_run(session, name, self.worker_id)
            result = spec.action(self.worker_id)
        except Exception as exc:
            seconds = time.perf_counter() - started
            self._count(name, "failed", seconds)
            self._log_failure(name, claim, seconds, exc)
            self._record_failure(spec, claim, run_id, describe_error(exc), seconds,
                                 announce=not is_database_unavailable(exc))
            return "failed"

        seconds = time.perf_counter() - started
        self._count(name, "ok", seconds)
        self._errors.pop(name, None)
        self._record_success(spec, claim, run_id, result, seconds)
        log.info("job %s period %s on worker %s: ok in %.2fs (%s)", name,
                 iso(claim.period_start), self.worker_id, seconds, result.describe() or "no counts")
        return "ok"

    def _log_failure(self, name: str, claim: Claim, seconds: float, exc: Exception) -> None:
        if is_database_unavailable(exc):
            log.error("job %s period %s on worker %s failed after %.2fs: database connection "
                      "lost (%s); its transaction rolled back and the next period redoes "
                      "the work", name, iso(claim.period_start), self.worker_id, seconds,
                      describe_error(first_database_error(exc)))
            return
        self._log_error(name, exc, "job %s period %s on worker %s failed after %.2fs: %s",
                        name, iso(claim.period_start), self.worker_id, seconds,
                        describe_error(exc))

    def _log_error(self, key: str, exc: Exception, message: str, *args) -> None:
        """Log an unexpected error with its traceback, or in one line when it repeats."""
        signature = describe_error(exc)
        if self._errors.get(key) == signature:
            log.error(message + " (the same error again; its traceback was logged before)",
                      *args)
            return
        self._errors[key] = signature
        log.exception(message, *args)

    def _count(self, name: str, outcome: str, seconds: float) -> None:
        JOB_RUNS.labels(name, outcome).inc()
        if name == "tick":
            TICKS.labels(outcome).inc()
            TICK_DURATION.observe(seconds)

    def _record_success(self, spec: JobSpec, claim: Claim, run_id: int | None,
                        result: RunResult, seconds: float) -> None:
        try:
            with session_scope() as session:
                if run_id is not None:
                    runs.finish_run(session, run_id, result, seconds)
                periods.finish_period(session, spec.name, claim.period_start, "ok")
        except Exception as exc:
            # The job's own work is committed; the run row stays running until
            # this worker's next heartbeat marks it abandoned.
            self.outage.failed(f"recording job {spec.name} run", exc)

    def _record_failure(self, spec: JobSpec, claim: Claim, run_id: int | None, error: str,
                        seconds: float, announce: bool) -> None:
        try:
            with session_scope() as session:
                if run_id is not None:
                    runs.fail_run(session, run_id, error, seconds)
                periods.finish_period(session, spec.name, claim.period_start, "failed", error)
        except Exception as exc:
            # Rows left running are marked abandoned once the database is back.
            self.outage.failed(f"recording job {spec.name} failure", exc, announce)

    def _stand_by(self, spec: JobSpec, period: datetime, reason: str) -> str:
        JOB_RUNS.labels(spec.name, "standby").inc()
        self._set_role(spec.name, "standby", reason)
        log.debug("job %s period %s: worker %s standing by, %s", spec.name, iso(period),
                  self.worker_id, reason)
        return "standby"

    def _set_role(self, name: str, role: str, reason: str = "") -> None:
        previous = self._roles.get(name)
        self._roles[name] = role
        if previous == role:
            return
        if role == "standby":
            log.info("job %s: worker %s standing by, %s", name, self.worker_id, reason)
        else:
            log.info("job %s: worker %s is running it", name, self.worker_id)
