"""The operations runbook's curl commands, run as written against a live server.

The commands are copied verbatim from the runbook with its host replaced by
the server under test; each test checks the response the runbook expects.
"""

import json
import shlex
import subprocess

import pytest

from engine import book
from engine.db import session_scope
from engine.pipeline import tick
from tests.api_helpers import api_server, make_key, server_env
from tests.conftest import REDIS_URL

RUNBOOK_HOST = "https://api.riskcast.io"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(pg_database_url, tmp_path_factory):
    env = server_env(DATABASE_URL=pg_database_url, REDIS_URL=REDIS_URL,
                     PROMETHEUS_MULTIPROC_DIR=str(tmp_path_factory.mktemp("metrics")))
    with api_server(env) as base_url:
        yield base_url


@pytest.fixture
def live(server, pg_env):
    """The server, over the demo book after one pipeline tick."""
    with session_scope() as session:
        book.load_demo_book(session)
    tick()
    return server


def run(command: str, base_url: str, *extra: str) -> subprocess.CompletedProcess:
    """Run a runbook command with the runbook's host replaced by ``base_url``."""
    assert RUNBOOK_HOST in command
    line = command.replace(RUNBOOK_HOST, base_url)
    if extra:
        first, _, rest = line.partition(" | ")
        line = " ".join([first, *map(shlex.quote, extra)]) + (f" | {rest}" if rest else "")
    return subprocess.run(["bash", "-o", "pipefail", "-c", line], capture_output=True,
                          text=True, timeout=60)


def status_of(command: str, base_url: str, *extra: str) -> int:
    first = command.split(" | ")[0]
    done = run(first, base_url, "-s", "-o", "/dev/null", "-w", "%{http_code}", *extra)
    return int(done.stdout)


def test_reset_circuit_without_key_is_401(live):
    command = "curl -X POST https://api.riskcast.io/circuits/polymarket/reset"

    done = run(command, live)

    assert done.returncode == 0
    body = json.loads(done.stdout)
    assert body["status"] == 401
    assert "python -m api create-key NAME" in body["detail"]
    assert status_of(command, live) == 401


def test_reset_circuit_with_key(live):
    command = "curl -X POST https://api.riskcast.io/circuits/polymarket/reset"
    key = make_key("oncall")

    done = run(command, live, "-H", f"X-API-Key: {key}")

    body = json.loads(done.stdout)
    assert body["name"] == "polymarket"
    assert body["circuit"]["state"] == "closed"


def test_circuit_status(live):
    command = "curl https://api.riskcast.io/circuits"

    done = run(command, live)

    body = json.loads(done.stdout)
    assert set(body["circuit_breakers"]) == {"polymarket", "twilio", "ais", "news",
                                             "database", "redis"}
    assert status_of(command, live) == 200


def test_twilio_circuit_through_jq(live):
    command = "curl https://api.riskcast.io/circuits | jq '.circuit_breakers.twilio'"

    done = run(command, live)

    assert done.returncode == 0, done.stderr
    twilio = json.loads(done.stdout)
    assert twilio["state"] == "closed"
    assert twilio["fail_max"] == 3
    assert twilio["reset_timeout"] == 30


@pytest.mark.parametrize("command", [
    "curl https://api.riskcast.io/signals/health",
    "curl https://api.riskcast.io/oracle/health",
])
def test_source_health(live, command):
    done = run(command, live)

    body = json.loads(done.stdout)
    assert body["status"] in ("ok", "degraded")
    assert body["sources"]
    assert status_of(command, live) == 200


def test_cleanup_expired(live):
    command = "curl -X POST https://api.riskcast.io/admin/cleanup-expired"
    key = make_key("oncall")

    without_key = status_of(command, live)
    first = json.loads(run(command, live, "-H", f"X-API-Key: {key}").stdout)
    again = json.loads(run(command, live, "-H", f"X-API-Key: {key}").stdout)

    assert without_key == 401
    assert first["removed"] >= 0
    assert again["removed"] == 0


def test_generate_decisions(live):
    command = "curl -X POST https://api.riskcast.io/decisions/generate"
    key = make_key("oncall")

    body = json.loads(run(command, live, "-H", f"X-API-Key: {key}").stdout)

    assert body["total"] > 0
    assert body["decisions"][0]["severity"] in ("LOW", "MEDIUM", "HIGH", "CRITICAL")


@pytest.mark.parametrize("path", ["/live", "/ready", "/health"])
def test_probes(live, path):
    assert status_of(f"curl https://api.riskcast.io{path}", live) == 200


def test_metrics_for_prometheus_queries(live):
    done = run("curl https://api.riskcast.io/metrics", live)

    assert "http_request_duration_seconds_bucket{" in done.stdout
    assert 'http_requests_total{method="GET"' in done.stdout
    assert "decisions_generated_total " in done.stdout
