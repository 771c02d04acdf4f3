"""Shared set-up for the dashboard tests: a populated book and a served app."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from engine import book
from engine.alerting.dispatch import dispatch_once
from engine.db import session_scope
from engine.pipeline import tick

ROOT = Path(__file__).resolve().parent.parent
PAGES = {
    "overview": "dashboard/overview.py",
    "exposure": "dashboard/exposure.py",
    "trends": "dashboard/trends.py",
    "pipeline": "dashboard/pipeline.py",
    "circuits": "dashboard/circuits.py",
    "decisions": "dashboard/decisions.py",
    "alerts": "dashboard/alerts.py",
    "maintenance": "dashboard/maintenance.py",
    "reports": "dashboard/reports.py",
    "book": "dashboard/book.py",
}


def populate(ticks: int = 1) -> None:
    """Load the demo book, run ``ticks`` replay days and send the queued alerts."""
    with session_scope() as session:
        book.load_demo_book(session)
    for number in range(ticks):
        tick(advance=number > 0)
    dispatch_once(limit=1000)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_streamlit(port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start ``streamlit run app.py`` and wait until its health endpoint responds."""
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true",
               "--browser.gatherUsageStats", "false"]
    log = open(log_path, "w")
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=log,
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}; see {log_path}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    process.terminate()
    raise RuntimeError(f"streamlit did not answer on port {port} within 60 s; see {log_path}")
