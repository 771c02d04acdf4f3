import subprocess
import sys

import httpx
import pytest
from sqlalchemy import text

from engine import breakers, metrics, metrics_export
from engine.db import session_scope
from engine.models import WorkerHeartbeat
from engine.models.base import utcnow
from tests.api_helpers import ROOT, api_server, client, metric_sum, metric_value, server_env

RUNBOOK_METRICS = ("http_request_duration_seconds", "http_requests_total",
                   "decisions_generated_total")


def test_metrics_carry_runbook_names(pg_env):
    with client() as api:
        api.get("/live")
        response = api.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    exposition = response.text
    for name in RUNBOOK_METRICS:
        assert f"# TYPE {name.removesuffix('_total')}" in exposition, name
    assert "# TYPE http_request_duration_seconds histogram" in exposition
    assert metric_value(exposition, "http_request_duration_seconds_bucket",
                        method="GET", path="/live", le="+Inf") >= 1
    for name in ("riskcast_circuit_state", "riskcast_circuits_open",
                 "riskcast_alert_queue_depth", "riskcast_tick_duration_seconds_count"):
        assert metric_value(exposition, name) is not None, name


def test_requests_counted_by_route_and_status(pg_env):
    with client() as api:
        before = api.get("/metrics").text
        for _ in range(3):
            api.get("/circuits")
        api.post("/circuits/twilio/reset")
        api.get("/no-such-page")
        after = api.get("/metrics").text

    def delta(**labels):
        return (metric_sum(after, "http_requests_total", **labels)
                - metric_sum(before, "http_requests_total", **labels))

    assert delta(method="GET", path="/circuits", status="200") == 3
    assert delta(method="POST", path="/circuits/{name}/reset", status="401") == 1
    assert delta(path="<unmatched>", status="404") == 1


def test_gauges_follow_shared_state(pg_env):
    breakers.breaker("polymarket").open()
    with session_scope() as session:
        session.add(WorkerHeartbeat(worker_id="w1", hostname="h", pid=1, beat_at=utcnow()))

    with client() as api:
        exposition = api.get("/metrics").text

    assert metric_value(exposition, "riskcast_circuit_state", name="polymarket") == 2
    assert metric_value(exposition, "riskcast_circuit_state", name="twilio") == 0
    assert metric_value(exposition, "riskcast_circuits_open") == 1
    assert metric_value(exposition, "riskcast_alert_queue_depth") == 0
    assert 0 <= metric_value(exposition, "riskcast_worker_heartbeat_age_seconds") < 600


def test_decision_count_waits_for_commit(pg_env):
    before = metrics.DECISIONS_GENERATED._value.get()

    with pytest.raises(RuntimeError):
        with session_scope() as session:
            metrics.count_on_commit(session, metrics.DECISIONS_GENERATED, 5)
            session.execute(text("SELECT 1"))
            raise RuntimeError("tick failed")
    rolled_back = metrics.DECISIONS_GENERATED._value.get()
    with session_scope() as session:
        metrics.count_on_commit(session, metrics.DECISIONS_GENERATED, 2)
        session.execute(text("SELECT 1"))
    committed = metrics.DECISIONS_GENERATED._value.get()

    assert rolled_back == before
    assert committed == before + 2


def test_dead_process_gauges_forgotten(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    dead_pid = int(finished.stdout)
    (tmp_path / f"gauge_livesum_{dead_pid}.db").write_bytes(b"")
    (tmp_path / f"counter_{dead_pid}.db").write_bytes(b"")

    forgotten = metrics_export.forget_dead_processes(str(tmp_path))

    assert forgotten == [dead_pid]
    assert not (tmp_path / f"gauge_livesum_{dead_pid}.db").exists()
    assert (tmp_path / f"counter_{dead_pid}.db").exists()


SEND_ONE_ALERT = (
    "from engine import metrics; metrics.ALERTS_SENT.labels(outcome='sent').inc()"
)


def _count_alert_in_new_process(env):
    subprocess.run([sys.executable, "-c", SEND_ONE_ALERT], cwd=ROOT, env=env,
                   check=True, timeout=120)


@pytest.mark.slow
def test_counters_sum_across_processes(pg_env, tmp_path):
    env = server_env(
        DATABASE_URL=pg_env.url.render_as_string(hide_password=False),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", SEND_ONE_ALERT], cwd=ROOT, env=env)
        for _ in range(2)
    ]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0]

    with api_server(env) as base_url:
        first = httpx.get(f"{base_url}/metrics", timeout=30).text
        _count_alert_in_new_process(env)
        second = httpx.get(f"{base_url}/metrics", timeout=30).text
    with api_server(env) as base_url:
        after_restart = httpx.get(f"{base_url}/metrics", timeout=30).text

    sent = [metric_value(text_, "riskcast_alerts_sent_total", outcome="sent")
            for text_ in (first, second, after_restart)]
    assert sent == [2, 3, 3]
    served = [metric_sum(text_, "http_requests_total", path="/metrics")
              for text_ in (first, second, after_restart)]
    assert served == sorted(served)


@pytest.mark.slow
def test_api_processes_share_counts(pg_env, tmp_path):
    env = server_env(
        DATABASE_URL=pg_env.url.render_as_string(hide_password=False),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
        API_WORKERS="2",
    )

    with api_server(env) as base_url:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            for _ in range(20):
                # A new connection each time lets the kernel spread them over both workers.
                assert httpx.get(f"{base_url}/circuits", timeout=30).status_code == 200
            exposition = http.get("/metrics").text

    assert metric_sum(exposition, "http_requests_total", path="/circuits", status="200") == 20
    assert metric_value(exposition, "http_request_duration_seconds_count",
                        method="GET", path="/circuits") == 20
    counter_files = [p.name for p in tmp_path.glob("counter_*.db")]
    assert len(counter_files) >= 2
