import pytest
from sqlalchemy import text

# Imported first, as the API process does, so that pool events are counted
# from the first checkout.
from engine import db, metrics  # noqa: F401
from engine.settings import reset_settings_cache
from tests.api_helpers import client, make_key, metric_value


@pytest.fixture
def small_pool(pg_env, monkeypatch):
    """A pool of two connections that gives up after half a second."""
    monkeypatch.setenv("POOL_SIZE", "2")
    monkeypatch.setenv("MAX_OVERFLOW", "0")
    monkeypatch.setenv("POOL_TIMEOUT", "0.5")
    reset_settings_cache()
    db.reset_engine()
    engine = db.get_engine()
    yield engine
    leaked = engine.pool.checkedout()
    db.reset_engine()
    assert leaked == 0, f"{leaked} connection(s) of the small pool still checked out"


def _hold(engine, count):
    connections = [engine.connect() for _ in range(count)]
    for connection in connections:
        connection.execute(text("SELECT 1"))
    return connections


def test_exhausted_pool_is_503_database_busy(small_pool):
    key = make_key("oncall")
    busy_connections = _hold(small_pool, 2)
    try:
        with client() as api:
            read = api.get("/signals/health")
            write = api.post("/decisions/generate", headers={"X-API-Key": key})
            health = api.get("/health")
            scrape = api.get("/metrics")
    finally:
        for connection in busy_connections:
            connection.close()

    assert read.status_code == 503
    assert read.headers["content-type"] == "application/problem+json"
    assert read.headers["retry-after"] == "5"
    assert read.json()["detail"].startswith("database busy")
    assert "POOL_SIZE" in read.json()["detail"]
    assert write.status_code == 503
    assert write.json()["detail"].startswith("database busy")
    assert health.status_code == 503
    assert health.json()["database"]["state"] == "down"
    assert scrape.status_code == 200
    assert metric_value(scrape.text, "riskcast_db_pool_checked_out") == 2
    assert metric_value(scrape.text, "riskcast_metrics_refresh_failures_total",
                        source="database") >= 1


def test_pool_recovers_after_release(small_pool):
    busy_connections = _hold(small_pool, 2)
    with client() as api:
        busy = api.get("/oracle/health")
        for connection in busy_connections:
            connection.close()
        recovered = api.get("/oracle/health")
        scrape = api.get("/metrics")

    assert busy.status_code == 503
    assert recovered.status_code == 200
    assert small_pool.pool.checkedout() == 0
    assert metric_value(scrape.text, "riskcast_db_pool_checked_out") == 0
    assert metric_value(scrape.text, "riskcast_db_pool_capacity") == 2


def test_failed_requests_return_connections(small_pool):
    key = make_key("oncall")

    with client() as api:
        for _ in range(5):
            assert api.post("/circuits/kafka/reset",
                            headers={"X-API-Key": key}).status_code == 404
            assert api.post("/decisions/generate", headers={"X-API-Key": key},
                            json={"customer_id": "nobody"}).status_code == 404

    assert small_pool.pool.checkedout() == 0
