"""Worker processes, a throwaway PostgreSQL server and run counting for the fleet tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from engine.clock import as_utc
from engine.models import JobPeriod, PipelineRun

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """Return a port the kernel just handed out as free (bind to port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float, what: str,
             every: float = 0.2) -> object:
    """Poll ``condition`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def worker_env(database_url: str, redis_url: str | None, **overrides: object) -> dict[str, str]:
    """Return the environment of a test worker: short periods, its own probe port."""
    env = dict(os.environ)
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SOURCE_MODE", "REPLAY_START",
                 "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    env.update({
        "DATABASE_URL": database_url,
        "PIPELINE_INTERVAL_SECONDS": "3",
        "DISPATCH_INTERVAL_SECONDS": "3",
        "WORKER_HEARTBEAT_SECONDS": "1",
        "WORKER_HEARTBEAT_STALE_SECONDS": "5",
        "WORKER_HEALTH_PORT": str(free_port()),
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        # A fresh metrics folder per test, so counters of earlier runs do not add up.
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="riskcast-metrics-"),
    })
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)
    env.update({name: str(value) for name, value in overrides.items()})
    return env


class WorkerProcess:
    """One ``python -m scheduler`` process with its log in a file."""

    def __init__(self, env: dict[str, str], log_dir: Path, name: str,
                 args: tuple[str, ...] = ("--no-migrate",)) -> None:
        self.name = name
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scheduler", *args], cwd=ROOT, env=env,
            stdout=self._log, stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def port(self) -> int:
        return int(self.env["WORKER_HEALTH_PORT"])

    def log(self) -> str:
        return self.log_path.read_text()

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 30) -> int:
        code = self.process.wait(timeout=timeout)
        self._log.close()
        return code

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, already_signalled: bool = False) -> int:
        """SIGTERM the worker unless that was done already, wait, and kill it after 30 s."""
        if self.process.poll() is None and not already_signalled:
            self.signal(signal.SIGTERM)
        try:
            return self.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.wait(10)

    def get(self, path: str) -> tuple[int, str]:
        """GET a probe path of this worker; return (status, body)."""
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def live(self) -> tuple[int, dict]:
        status, body = self.get("/live")
        return status, json.loads(body)

    def metric(self, name: str, **labels: str) -> float:
        """Return one sample of this worker's /metrics, or 0 when absent."""
        from prometheus_client.parser import text_string_to_metric_families

        status, body = self.get("/metrics")
        assert status == 200, body
        for family in text_string_to_metric_families(body):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v
                                               for k, v in labels.items()):
                    return sample.value
        return 0.0


def stop_all(workers: list[WorkerProcess]) -> None:
    """SIGTERM every worker at once, then wait for each."""
    for worker in workers:
        if worker.process.poll() is None:
            worker.signal(signal.SIGTERM)
    for worker in workers:
        worker.stop(already_signalled=True)


@dataclass(frozen=True)
class TickRun:
    id: int
    worker_id: str
    started_at: datetime
    status: str
    signals: int


def tick_runs(engine: Engine) -> list[TickRun]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(PipelineRun.id, PipelineRun.worker_id, PipelineRun.started_at,
                   PipelineRun.status, PipelineRun.signals)
            .where(PipelineRun.job == "tick").order_by(PipelineRun.id)
        ).all()
    return [TickRun(r.id, r.worker_id, as_utc(r.started_at), r.status, r.signals) for r in rows]


def tick_claims(engine: Engine) -> list[JobPeriod]:
    with engine.connect() as connection:
        return connection.execute(
            select(JobPeriod.period_start, JobPeriod.worker_id, JobPeriod.status,
                   JobPeriod.missed_before)
            .where(JobPeriod.job == "tick").order_by(JobPeriod.period_start)
        ).all()


def ok_periods(engine: Engine) -> int:
    return sum(1 for claim in tick_claims(engine) if claim.status == "ok")


def runs_per_period(runs: list[TickRun], interval: float) -> Counter:
    """Count tick runs by the period their start time falls in."""
    return Counter(int(run.started_at.timestamp() // interval) for run in runs)


def pg_waiting_on_lock(engine: Engine, table: str) -> bool:
    """Tell whether another backend is blocked on a lock while querying ``table``."""
    with engine.connect() as connection:
        return bool(connection.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                 "AND query ILIKE :pattern AND pid <> pg_backend_pid()"),
            {"pattern": f"%{table}%"},
        ).scalar())


class ThrowawayPostgres:
    """A private PostgreSQL server in a temporary folder, on a free loopback port.

    Scenarios that stop or restart PostgreSQL use this one, never the shared
    server. As root, initdb and the server run as the ``postgres`` user.
    """

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="riskcast-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--no-sync", "-E", "UTF8")
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.dir} -c fsync=off")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.dir / "server.log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self._as_user, str(self.bin / tool), *args], check=True,
                       capture_output=True, timeout=120)


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise RuntimeError("initdb not found: install the postgresql server package")


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def period_of(moment: datetime, interval: float) -> datetime:
    return utc((moment.timestamp() // interval) * interval)


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
