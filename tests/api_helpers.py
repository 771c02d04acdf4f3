"""Helpers for the ops API tests: clients, keys and a live server process."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from engine import apikeys
from engine.db import session_scope
from engine.models import AuditEntry

ROOT = Path(__file__).resolve().parent.parent


def client() -> TestClient:
    from api.app import create_app

    return TestClient(create_app())


def make_key(name: str = "oncall") -> str:
    with session_scope() as session:
        _, key = apikeys.create(session, name)
    return key


def audit_entries(action: str | None = None) -> list[AuditEntry]:
    with session_scope() as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        return list(session.scalars(query))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(**overrides: str) -> dict[str, str]:
    """The environment of this process with the test settings, for child processes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(API_HOST="127.0.0.1", LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    env.update(overrides)
    return env


@contextlib.contextmanager
def api_server(env: dict[str, str], startup_seconds: float = 60.0) -> Iterator[str]:
    """Run ``python -m api`` on a free loopback port; yield its base URL."""
    port = free_port()
    # A file, not a pipe, so that a chatty server can never block on a full pipe.
    output = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "api"], cwd=ROOT, env={**env, "PORT": str(port)},
        stdout=output, stderr=subprocess.STDOUT, text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_live(process, output, base_url, startup_seconds)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.close()


def _wait_until_live(process: subprocess.Popen, output, base_url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output.seek(0)
            raise RuntimeError(f"the API exited with {process.returncode}:\n{output.read()}")
        try:
            if httpx.get(f"{base_url}/live", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the API at {base_url} did not answer /live within {seconds} s")


def metric_value(exposition: str, metric: str, /, **labels: str) -> float | None:
    """Return the value of one sample in Prometheus text, or None when absent."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == metric and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def metric_sum(exposition: str, metric: str, /, **labels: str) -> float:
    """Return the sum of every sample of ``metric`` whose labels include ``labels``."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == metric and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total
