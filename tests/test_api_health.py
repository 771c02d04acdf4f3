from fastapi.testclient import TestClient

from engine import book
from engine.db import session_scope
from engine.pipeline import tick


def _client():
    from api.app import create_app

    return TestClient(create_app())


def test_live_and_ready(pg_env):
    with _client() as client:
        assert client.get("/live").json() == {"status": "ok"}
        ready = client.get("/ready")

    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_health_reports_dependencies(pg_env):
    with session_scope() as session:
        book.load_demo_book(session)
    tick()

    with _client() as client:
        body = client.get("/health").json()

    assert body["database"]["state"] == "ok"
    assert body["redis"]["state"] == "ok"
    assert set(body["circuits"]) == {"polymarket", "twilio", "ais", "news", "database", "redis"}
    assert body["last_tick"]["status"] == "ok"
    assert body["alert_queue_depth"] > 0
    assert body["status"] in ("ok", "degraded")


def test_ready_degraded_without_redis(sqlite_env):
    with _client() as client:
        ready = client.get("/ready")

    assert ready.status_code == 200
    assert ready.json()["status"] == "ready (degraded)"
