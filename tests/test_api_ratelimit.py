import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from engine import ratelimit
from engine.ratelimit import ProcessRateLimiter
from engine.settings import reset_settings_cache
from tests.api_helpers import client, make_key


@pytest.fixture
def limit_of_three(monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "3")
    reset_settings_cache()
    yield 3
    reset_settings_cache()


@pytest.fixture
def redis_client(redis_url):
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


def test_fourth_request_is_429(pg_env, limit_of_three, redis_client):
    key = make_key("oncall")

    with client() as api:
        answers = [api.post("/circuits/ais/reset", headers={"X-API-Key": key})
                   for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["ratelimit-remaining"] == "2"
    rejected = answers[3]
    assert rejected.headers["content-type"] == "application/problem+json"
    assert 1 <= int(rejected.headers["retry-after"]) <= 60
    assert "'oncall' made 4 requests" in rejected.json()["detail"]
    assert int(redis_client.get("rate_limit:oncall")) == 4
    assert 0 < redis_client.ttl("rate_limit:oncall") <= 60


def test_limit_is_per_key(pg_env, limit_of_three):
    first, second = make_key("alice"), make_key("bob")

    with client() as api:
        for _ in range(3):
            api.post("/circuits/ais/reset", headers={"X-API-Key": first})
        blocked = api.post("/circuits/ais/reset", headers={"X-API-Key": first})
        other = api.post("/circuits/ais/reset", headers={"X-API-Key": second})

    assert blocked.status_code == 429
    assert other.status_code == 200


def test_reads_are_not_limited(pg_env, limit_of_three, redis_client):
    with client() as api:
        answers = [api.get("/circuits").status_code for _ in range(5)]

    assert answers == [200] * 5
    assert list(redis_client.scan_iter("rate_limit:*")) == []


def test_key_without_expiry_gets_it_back(redis_client):
    redis_client.set("rate_limit:oncall", 7)

    result = ratelimit.hit("oncall", 10, client=redis_client)

    assert result.count == 8
    assert result.backend == "redis"
    assert 0 < redis_client.ttl("rate_limit:oncall") <= 60


def test_concurrent_hits_counted_exactly(redis_client):
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: ratelimit.hit("burst", 20, client=redis_client),
                                range(50)))

    assert sum(r.allowed for r in results) == 20
    assert sorted(r.count for r in results) == list(range(1, 51))
    assert int(redis_client.get("rate_limit:burst")) == 50
    assert 0 < redis_client.ttl("rate_limit:burst") <= 60


def test_process_limit_without_redis(sqlite_env, limit_of_three, monkeypatch):
    monkeypatch.setattr(ratelimit, "_process_limiter", ProcessRateLimiter())
    key = make_key("oncall")

    with client() as api:
        answers = [api.post("/circuits/ais/reset", headers={"X-API-Key": key})
                   for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert "retry-after" in answers[3].headers


def test_redis_failure_falls_back_to_process():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    unreachable = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)

    result = ratelimit.hit("fallback-check", 5, client=unreachable)

    assert result.backend == "process"
    assert result.allowed


def test_process_window_resets_after_a_minute():
    now = [1000.0]
    limiter = ProcessRateLimiter(clock=lambda: now[0])

    first = [limiter.hit("k", 2) for _ in range(3)]
    now[0] += 59.5
    still_blocked = limiter.hit("k", 2)
    now[0] += 0.5
    fresh = limiter.hit("k", 2)

    assert [r.allowed for r in first] == [True, True, False]
    assert first[2].reset_seconds == 60
    assert not still_blocked.allowed
    assert still_blocked.reset_seconds == 1
    assert fresh.allowed
    assert fresh.count == 1
