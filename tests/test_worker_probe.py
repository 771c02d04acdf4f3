"""The worker's probes and process life: /live, /ready, /metrics, start and stop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from sqlalchemy import create_engine, select

from engine import db
from engine.models import WorkerHeartbeat
from engine.settings import load_settings, reset_settings_cache
from scheduler.probe import ProbeServer
from scheduler.service import WorkerService
from scheduler.worker import Worker
from tests.fleet_helpers import ROOT, free_port


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _service(monkeypatch) -> WorkerService:
    monkeypatch.setenv("WORKER_HEALTH_PORT", "0")
    reset_settings_cache()
    settings = load_settings()
    return WorkerService(settings, Worker(settings, worker_id="probe:7", jobs=[]))


@pytest.fixture
def probes(pg_env, monkeypatch):
    service = _service(monkeypatch)
    server = ProbeServer(0, service.liveness, service.readiness, service.metrics,
                         host="127.0.0.1")
    server.start()
    yield service, server.port
    server.shutdown()
    if service.thread.is_alive():
        service.stop()


def test_live_fails_when_scheduler_thread_dead(probes):
    _service, port = probes

    status, body = _get(port, "/live")

    assert status == 503
    assert json.loads(body)["status"] == "dead"
    assert "restart the worker" in json.loads(body)["detail"]


def test_live_ok_while_scheduler_runs(probes):
    service, port = probes
    service.start()

    status, body = _get(port, "/live")
    service.stop()

    assert status == 200
    assert json.loads(body) == {"status": "ok", "worker_id": "probe:7", "busy_jobs": []}
    with db.session_scope() as session:
        assert session.get(WorkerHeartbeat, "probe:7").role == "stopped"


def test_ready_checks_database(probes):
    _service, port = probes

    status, body = _get(port, "/ready")

    assert status == 200
    assert json.loads(body)["status"] == "ready"


def test_ready_fails_without_database(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/none")
    db.reset_engine()
    service = _service(monkeypatch)
    try:
        healthy, body = service.readiness()
    finally:
        db.reset_engine()

    assert not healthy
    assert body["status"] == "not ready"
    assert "OperationalError" in body["database"]


def test_metrics_exported(probes):
    from engine.metrics import JOB_RUNS

    JOB_RUNS.labels("tick", "ok").inc(0)
    _service, port = probes

    status, body = _get(port, "/metrics")

    assert status == 200
    assert 'riskcast_job_runs_total{job="tick",outcome="ok"}' in body
    assert "riskcast_tick_duration_seconds_bucket" in body


def test_unknown_path_404(probes):
    _service, port = probes

    status, body = _get(port, "/nope")

    assert status == 404
    assert "/live" in json.loads(body)["detail"]


def test_check_that_raises_answers_503():
    def broken() -> tuple[bool, dict]:
        raise RuntimeError("boom")

    server = ProbeServer(0, broken, broken, lambda: (b"", "text/plain"), host="127.0.0.1")
    server.start()
    try:
        status, body = _get(server.port, "/live")
    finally:
        server.shutdown()

    assert status == 503
    assert "RuntimeError: boom" in json.loads(body)["detail"]


def test_wait_for_database_gives_up():
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x",
                           connect_args={"connect_timeout": 2})
    pauses: list[float] = []
    try:
        with pytest.raises(Exception) as failed:
            db.wait_for_database(engine, timeout=10, sleep=pauses.append)
    finally:
        engine.dispose()

    assert pauses == [1.0, 2.0, 4.0]
    assert db.is_database_unavailable(failed.value)


def test_invalid_probe_port_stops_start(tmp_path):
    env = dict(os.environ, WORKER_HEALTH_PORT="99999",
               DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")

    result = subprocess.run([sys.executable, "-m", "scheduler"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert "WORKER_HEALTH_PORT='99999' is invalid" in result.stderr


def test_worker_runs_on_sqlite(tmp_path):
    """The zero-configuration worker: SQLite, file locks, SIGTERM stops it cleanly."""
    from tests.fleet_helpers import WorkerProcess, ok_periods, wait_for, worker_env

    url = f"sqlite:///{tmp_path / 'riskcast.db'}"
    env = worker_env(url, None, PIPELINE_INTERVAL_SECONDS=2)
    worker = WorkerProcess(env, tmp_path, "sqlite", args=())
    engine = create_engine(url)
    try:
        wait_for(lambda: _table_ready(engine) and ok_periods(engine) >= 2, 60,
                 "two ticks on SQLite")
    finally:
        code = worker.stop()
    with engine.connect() as connection:
        roles = connection.execute(select(WorkerHeartbeat.role)).scalars().all()
    engine.dispose()

    assert code == 0, worker.log()
    assert roles == ["stopped"]


def _table_ready(engine) -> bool:
    from sqlalchemy import inspect

    return "job_periods" in inspect(engine).get_table_names()


def test_busy_probe_port_stops_start(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = dict(os.environ, WORKER_HEALTH_PORT=str(port), LOG_LEVEL="INFO",
                   DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
        env.pop("REDIS_URL", None)
        result = subprocess.run([sys.executable, "-m", "scheduler"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert f"cannot listen on WORKER_HEALTH_PORT={port}" in result.stderr
    assert "Traceback" not in result.stderr
