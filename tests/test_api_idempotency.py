import json
import uuid
from datetime import timedelta

import pytest
import redis
from sqlalchemy import select, update

from engine import book, breakers, idempotency
from engine.clock import domain_now
from engine.db import session_scope
from engine.models import Decision
from engine.pipeline import tick
from engine.settings import get_settings
from tests.api_helpers import audit_entries, client, make_key


@pytest.fixture
def redis_client(redis_url):
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


def _expire(count: int) -> list[int]:
    with session_scope() as session:
        now = domain_now(session, get_settings())
        ids = list(session.scalars(
            select(Decision.id).where(Decision.is_expired.is_(False)).limit(count)
        ))
        session.execute(update(Decision).where(Decision.id.in_(ids))
                        .values(expires_at=now - timedelta(hours=1)))
    return ids


def test_repeat_returns_first_response_without_acting(pg_env, redis_client):
    key = make_key("oncall")
    request_key = str(uuid.uuid4())
    headers = {"X-API-Key": key, "Idempotency-Key": request_key}
    breakers.breaker("polymarket").open()

    with client() as api:
        first = api.post("/circuits/polymarket/reset", headers=headers)
        breakers.breaker("polymarket").open()
        repeat = api.post("/circuits/polymarket/reset", headers=headers)

    assert first.status_code == 200
    assert repeat.status_code == 200
    assert repeat.json() == first.json()
    assert repeat.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert breakers.snapshot()["polymarket"]["state"] == "open"
    assert len(audit_entries("circuit.reset")) == 1
    stored = json.loads(redis_client.get(f"idempotency:{request_key}"))
    assert stored["kind"] == idempotency.RECORD_KIND
    assert stored["state"] == "done"
    assert 86000 < redis_client.ttl(f"idempotency:{request_key}") <= 86400


def test_cleanup_repeat_returns_first_result(pg_env):
    with session_scope() as session:
        book.load_demo_book(session)
    tick()
    key = make_key("oncall")
    first_ids = _expire(2)
    headers = {"X-API-Key": key, "Idempotency-Key": "cleanup-2024-01-10"}

    with client() as api:
        first = api.post("/admin/cleanup-expired", headers=headers)
        second_ids = _expire(3)
        repeat = api.post("/admin/cleanup-expired", headers=headers)
        fresh = api.post("/admin/cleanup-expired",
                         headers={"X-API-Key": key, "Idempotency-Key": "cleanup-2024-01-11"})

    assert first.json()["removed"] == 2
    assert sorted(first.json()["decision_ids"]) == sorted(first_ids)
    assert repeat.json() == first.json()
    assert fresh.json()["removed"] == 3
    assert sorted(fresh.json()["decision_ids"]) == sorted(second_ids)
    assert len(audit_entries("decisions.cleanup_expired")) == 2


def test_key_reused_for_other_request_is_422(pg_env):
    key = make_key("oncall")
    headers = {"X-API-Key": key, "Idempotency-Key": "same-key"}

    with client() as api:
        api.post("/circuits/ais/reset", headers=headers)
        other = api.post("/circuits/news/reset", headers=headers)

    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert "POST /circuits/ais/reset" in other.json()["detail"]
    assert len(audit_entries("circuit.reset")) == 1


def test_key_reused_by_other_api_key_is_422(pg_env):
    alice, bob = make_key("alice"), make_key("bob")

    with client() as api:
        api.post("/circuits/ais/reset", headers={"X-API-Key": alice, "Idempotency-Key": "k1"})
        other = api.post("/circuits/ais/reset",
                         headers={"X-API-Key": bob, "Idempotency-Key": "k1"})

    assert other.status_code == 422


def test_foreign_value_is_409_and_untouched(pg_env, redis_client):
    key = make_key("oncall")
    redis_client.set("idempotency:alert-17-+15550100", "sent", ex=3600)

    with client() as api:
        response = api.post("/circuits/ais/reset",
                            headers={"X-API-Key": key,
                                     "Idempotency-Key": "alert-17-+15550100"})

    assert response.status_code == 409
    assert "another part of RISKCAST" in response.json()["detail"]
    assert redis_client.get("idempotency:alert-17-+15550100") == b"sent"
    assert audit_entries("circuit.reset") == []


def test_running_request_is_409(pg_env):
    key = make_key("oncall")
    # The claim that a first request keeps while it runs.
    fingerprint = idempotency.fingerprint("POST", "/circuits/ais/reset", "", "null", "oncall")
    assert idempotency.begin("slow-one", fingerprint) is None

    with client() as api:
        response = api.post("/circuits/ais/reset",
                            headers={"X-API-Key": key, "Idempotency-Key": "slow-one"})

    assert response.status_code == 409
    assert "still running" in response.json()["detail"]
    assert response.headers["retry-after"] == "2"


def test_error_responses_are_replayed(pg_env):
    key = make_key("oncall")
    headers = {"X-API-Key": key, "Idempotency-Key": "bad-circuit"}

    with client() as api:
        first = api.post("/circuits/kafka/reset", headers=headers)
        repeat = api.post("/circuits/kafka/reset", headers=headers)

    assert first.status_code == repeat.status_code == 404
    assert repeat.headers["content-type"] == "application/problem+json"
    assert repeat.json() == first.json()
    assert len(audit_entries("circuit.reset")) == 1


def test_failed_request_releases_key(pg_env, redis_client, monkeypatch):
    key = make_key("oncall")
    headers = {"X-API-Key": key, "Idempotency-Key": "retry-me"}

    def explode(_name):
        raise RuntimeError("breaker storage exploded")

    with client() as api:
        monkeypatch.setattr(breakers, "reset", explode)
        failed = api.post("/circuits/ais/reset", headers=headers)
        monkeypatch.undo()
        retried = api.post("/circuits/ais/reset", headers=headers)

    assert failed.status_code == 500
    assert retried.status_code == 200
    assert "idempotent-replayed" not in retried.headers
    results = [e.result["status"] for e in audit_entries("circuit.reset")]
    assert results == [500, 200]


@pytest.mark.parametrize("bad", ["", "x" * 256, "has space"])
def test_invalid_key_is_422(pg_env, bad):
    key = make_key("oncall")

    with client() as api:
        response = api.post("/circuits/ais/reset",
                            headers={"X-API-Key": key, "Idempotency-Key": bad})

    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]
    assert audit_entries("circuit.reset") == []


def test_replay_without_redis(sqlite_env):
    key = make_key("oncall")
    headers = {"X-API-Key": key, "Idempotency-Key": f"local-{uuid.uuid4()}"}

    with client() as api:
        first = api.post("/circuits/ais/reset", headers=headers)
        repeat = api.post("/circuits/ais/reset", headers=headers)

    assert repeat.headers["idempotent-replayed"] == "true"
    assert repeat.json() == first.json()
    assert len(audit_entries("circuit.reset")) == 1
