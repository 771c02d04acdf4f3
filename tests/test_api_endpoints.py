from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError

from engine import book, breakers, liveness, metrics
from engine.clock import domain_now
from engine.db import session_scope
from engine.models import Customer, Decision
from engine.pipeline import tick
from engine.settings import get_settings
from tests.api_helpers import audit_entries, client, make_key

PROBLEM = "application/problem+json"


@pytest.fixture
def booked(pg_env):
    """The demo book with one pipeline tick behind it."""
    with session_scope() as session:
        book.load_demo_book(session)
    tick()
    return pg_env


def _active_decisions() -> list[Decision]:
    with session_scope() as session:
        return list(session.scalars(
            select(Decision).where(Decision.is_expired.is_(False))
        ))


def test_circuits_lists_every_breaker(pg_env):
    with client() as api:
        body = api.get("/circuits").json()

    assert set(body["circuit_breakers"]) == set(breakers.SPECS)
    twilio = body["circuit_breakers"]["twilio"]
    assert twilio["state"] == "closed"
    assert twilio["failure_count"] == 0
    assert twilio["fail_max"] == 3
    assert twilio["reset_timeout"] == 30


def test_reset_without_key_is_401(pg_env):
    breakers.breaker("polymarket").open()

    with client() as api:
        response = api.post("/circuits/polymarket/reset")

    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["status"] == 401
    assert "X-API-Key" in body["detail"]
    assert "python -m api create-key NAME" in body["detail"]
    assert breakers.snapshot()["polymarket"]["state"] == "open"
    assert audit_entries() == []


def test_reset_closes_open_circuit(pg_env):
    key = make_key("oncall")
    breakers.breaker("polymarket").open()

    with client() as api:
        response = api.post("/circuits/polymarket/reset", headers={"X-API-Key": key})
        listed = api.get("/circuits").json()

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "polymarket"
    assert body["previous_state"] == "open"
    assert body["circuit"]["state"] == "closed"
    assert listed["circuit_breakers"]["polymarket"]["state"] == "closed"
    [entry] = audit_entries("circuit.reset")
    assert entry.actor == "api-key:oncall"
    assert entry.target == "circuit:polymarket"
    assert entry.result == {"status": 200, "previous_state": "open", "state": "closed"}
    assert entry.at is not None


def test_reset_accepts_bearer_key(pg_env):
    key = make_key("oncall")

    with client() as api:
        response = api.post("/circuits/twilio/reset",
                            headers={"Authorization": f"Bearer {key}"})

    assert response.status_code == 200
    assert response.json()["circuit"]["state"] == "closed"


def test_reset_unknown_circuit_is_404(pg_env):
    key = make_key("oncall")

    with client() as api:
        response = api.post("/circuits/kafka/reset", headers={"X-API-Key": key})

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert "kafka" in response.json()["detail"]
    assert "polymarket" in response.json()["detail"]
    [entry] = audit_entries("circuit.reset")
    assert entry.target == "circuit:kafka"
    assert entry.result["status"] == 404


def test_unknown_key_is_401(pg_env):
    make_key("oncall")

    with client() as api:
        response = api.post("/circuits/twilio/reset", headers={"X-API-Key": "rc_wrong"})

    assert response.status_code == 401
    assert "not valid" in response.json()["detail"]


def test_generate_counts_new_decisions(booked):
    with session_scope() as session:
        session.execute(text("DELETE FROM alerts"))
        session.execute(text("DELETE FROM decisions"))
    key = make_key("oncall")
    before = metrics.DECISIONS_GENERATED._value.get()

    with client() as api:
        response = api.post("/decisions/generate", headers={"X-API-Key": key})

    assert response.status_code == 200
    body = response.json()
    stored = _active_decisions()
    assert body["customer_id"] is None
    assert body["total"] == len(stored) > 0
    assert metrics.DECISIONS_GENERATED._value.get() - before == len(stored)
    losses = [d["expected_loss_usd"] for d in body["decisions"]]
    assert losses == sorted(losses, reverse=True)
    assert all(d["answers"] for d in body["decisions"])
    [entry] = audit_entries("decisions.generate")
    assert entry.target == "customers:all"
    assert entry.result == {"status": 200, "active_decisions": len(stored)}


def test_generate_twice_changes_nothing(booked):
    key = make_key("oncall")
    before_rows = len(_active_decisions())
    before_count = metrics.DECISIONS_GENERATED._value.get()

    with client() as api:
        first = api.post("/decisions/generate", headers={"X-API-Key": key}).json()
        second = api.post("/decisions/generate", headers={"X-API-Key": key}).json()

    assert first["total"] == second["total"] == before_rows
    assert len(_active_decisions()) == before_rows
    assert metrics.DECISIONS_GENERATED._value.get() == before_count


def test_generate_one_customer_by_body_or_query(booked):
    key = make_key("oncall")
    customer = _active_decisions()[0].customer_id

    with client() as api:
        by_body = api.post("/decisions/generate", headers={"X-API-Key": key},
                           json={"customer_id": customer})
        by_query = api.post(f"/decisions/generate?customer_id={customer}",
                            headers={"X-API-Key": key})

    assert by_body.status_code == 200
    assert by_body.json()["customer_id"] == customer
    assert {d["customer_id"] for d in by_body.json()["decisions"]} == {customer}
    assert by_query.json() == by_body.json()
    assert audit_entries("decisions.generate")[0].target == f"customer:{customer}"


def test_generate_limit_caps_returned(booked):
    key = make_key("oncall")

    with client() as api:
        body = api.post("/decisions/generate?limit=1", headers={"X-API-Key": key}).json()

    assert body["returned"] == 1
    assert len(body["decisions"]) == 1
    assert body["total"] > 1


def test_generate_unknown_customer_is_404(pg_env):
    key = make_key("oncall")

    with client() as api:
        response = api.post("/decisions/generate", headers={"X-API-Key": key},
                            json={"customer_id": "nobody"})

    assert response.status_code == 404
    assert "'nobody'" in response.json()["detail"]
    [entry] = audit_entries("decisions.generate")
    assert entry.result["status"] == 404


def test_generate_conflicting_customers_is_422(pg_env):
    key = make_key("oncall")

    with client() as api:
        response = api.post("/decisions/generate?customer_id=a", headers={"X-API-Key": key},
                            json={"customer_id": "b"})

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert "'a'" in response.json()["detail"]


def test_cleanup_removes_expired_once(booked):
    key = make_key("oncall")
    with session_scope() as session:
        now = domain_now(session, get_settings())
        expired_ids = list(session.scalars(select(Decision.id).limit(3)))
        session.execute(update(Decision).where(Decision.id.in_(expired_ids))
                        .values(expires_at=now - timedelta(hours=1)))

    with client() as api:
        first = api.post("/admin/cleanup-expired", headers={"X-API-Key": key})
        second = api.post("/admin/cleanup-expired", headers={"X-API-Key": key})

    assert first.status_code == 200
    assert first.json()["removed"] == 3
    assert sorted(first.json()["decision_ids"]) == sorted(expired_ids)
    assert first.json()["as_of"] == now.isoformat()
    assert second.json()["removed"] == 0
    with session_scope() as session:
        statuses = session.scalars(select(Decision.status).where(Decision.id.in_(expired_ids)))
        assert set(statuses) == {"EXPIRED"}
    entries = audit_entries("decisions.cleanup_expired")
    assert [e.result["removed"] for e in entries] == [3, 0]


def test_cleanup_without_key_is_401(pg_env):
    with client() as api:
        response = api.post("/admin/cleanup-expired")

    assert response.status_code == 401
    assert "create-key" in response.json()["detail"]


def test_source_health_reports_each_source(booked):
    with client() as api:
        signals = api.get("/signals/health")
        oracle = api.get("/oracle/health")

    assert signals.status_code == 200
    assert set(signals.json()["sources"]) == {"polymarket", "gdelt"}
    assert oracle.status_code == 200
    assert {"portwatch", "scfi"} <= set(oracle.json()["sources"])
    assert signals.json()["sources"]["polymarket"]["circuit"] == "closed"


def test_live_fails_when_a_check_fails(pg_env):
    liveness.register("scheduler-thread", lambda: False)
    try:
        with client() as api:
            failing = api.get("/live")
    finally:
        liveness.unregister("scheduler-thread")
    with client() as api:
        passing = api.get("/live")

    assert failing.status_code == 503
    assert failing.json()["failed"] == ["scheduler-thread"]
    assert passing.json() == {"status": "ok"}


def test_ready_503_when_schema_behind(tmp_path, monkeypatch):
    from tests.conftest import _reset_process_state

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    _reset_process_state()
    try:
        with client() as api:
            response = api.get("/ready")
    finally:
        _reset_process_state()

    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert "alembic upgrade head" in response.json()["detail"]


def test_unknown_path_is_404_problem(pg_env):
    with client() as api:
        missing = api.get("/nothing-here")
        wrong_method = api.get("/circuits/twilio/reset")

    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    assert "/nothing-here" in missing.json()["detail"]
    assert wrong_method.status_code == 405
    assert "POST" in wrong_method.json()["detail"]


def test_invalid_query_is_422_problem(pg_env):
    key = make_key("oncall")

    with client() as api:
        response = api.post("/decisions/generate?limit=0", headers={"X-API-Key": key})

    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["location"] == ["query", "limit"]
    assert "limit" in body["detail"]


def test_crash_is_500_problem_without_traceback(pg_env, monkeypatch):
    def explode():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(breakers, "snapshot", explode)
    with client() as api:
        response = api.get("/circuits", headers={"X-Request-ID": "req-42"})

    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-request-id"] == "req-42"
    assert response.json()["request_id"] == "req-42"
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text


def test_database_error_is_503_problem(pg_env, monkeypatch):
    from engine import freshness

    def fail(_session):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(freshness, "signals_health", fail)
    with client() as api:
        response = api.get("/signals/health")

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "GET /ready" in response.json()["detail"]


def test_customers_untouched_by_reads(booked):
    with session_scope() as session:
        customers = session.scalar(select(func.count()).select_from(Customer))

    with client() as api:
        for path in ("/live", "/ready", "/health", "/circuits", "/signals/health",
                     "/oracle/health", "/metrics"):
            assert api.get(path).status_code == 200, path

    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == customers
    assert audit_entries() == []


def test_control_characters_rejected_or_masked(pg_env):
    key = make_key("oncall")

    with client() as api:
        in_body = api.post("/decisions/generate", headers={"X-API-Key": key},
                           json={"customer_id": "bad\u0000id"})
        in_path = api.post("/circuits/bad%00name/reset", headers={"X-API-Key": key})

    assert in_body.status_code == 422
    assert in_path.status_code == 404
    [entry] = audit_entries("circuit.reset")
    assert entry.target == "circuit:bad?name"
