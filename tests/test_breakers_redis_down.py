"""Breakers while Redis is stopped: a throwaway redis-server on a free port."""

import json
import logging
import shutil
import socket
import subprocess
import time

import pytest
import redis

from engine import breakers, ingest
from engine.clock import domain_now
from engine.db import session_scope
from engine.metrics import BREAKER_STORAGE_FALLBACKS
from engine.models import PipelineRun
from engine.pipeline import tick
from engine.settings import get_settings
from tests.fake_sources import Route, configure, fake_http  # noqa: F401

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is not installed")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ThrowawayRedis:
    def __init__(self, tmp_path) -> None:
        self.port = _free_port()
        self.dir = tmp_path
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis(pg_env, tmp_path, monkeypatch):
    server = ThrowawayRedis(tmp_path)
    server.start()
    configure(monkeypatch, REDIS_URL=server.url, CIRCUIT_REDIS_RETRY_SECONDS="0")
    yield server
    server.stop()
    configure(monkeypatch)


def _fallbacks() -> float:
    return BREAKER_STORAGE_FALLBACKS.labels("polymarket")._value.get()


def test_stopped_redis_falls_back(own_redis, fake_http, monkeypatch, caplog):
    configure(monkeypatch, SOURCE_MODE="live", POLYMARKET_API_URL=fake_http.url,
              GDELT_API_URL=None, SOURCE_READ_TIMEOUT_SECONDS="0.3")
    fake_http.routes["/events"] = Route(b"{}", status=500)
    breakers.snapshot()
    own_redis.stop()
    before = _fallbacks()

    outcomes = []
    with caplog.at_level(logging.WARNING, logger="engine.breakers"):
        for _ in range(10):
            with session_scope() as session:
                result = ingest.run(session, get_settings(), domain_now(session, get_settings()))
            outcomes.append(result.sources["polymarket"].outcome)

    assert outcomes == ["failed"] * 5 + ["circuit_open"] * 5
    assert fake_http.count("/events") == 5
    assert result.breaker_storage == "memory"
    assert _fallbacks() - before >= 10
    assert "circuit polymarket: Redis failed for breaker state" in caplog.text
    assert breakers.snapshot()["polymarket"]["storage"] == "memory"

    own_redis.start()
    client = redis.Redis.from_url(own_redis.url)
    assert breakers.snapshot()["polymarket"]["storage"] == "redis"
    assert client.get("circuit:polymarket:state") is None
    outcomes = []
    for _ in range(5):
        with session_scope() as session:
            result = ingest.run(session, get_settings(), domain_now(session, get_settings()))
        outcomes.append(result.sources["polymarket"].outcome)
    assert outcomes == ["failed"] * 5
    assert client.get("circuit:polymarket:state") == b"open"
    assert breakers.snapshot()["polymarket"]["state"] == "open"
    client.close()


def test_tick_completes_without_redis(own_redis, fake_http, monkeypatch):
    configure(monkeypatch, SOURCE_MODE="live", POLYMARKET_API_URL=fake_http.url,
              GDELT_API_URL=None, SOURCE_READ_TIMEOUT_SECONDS="0.3")
    fake_http.routes["/events"] = Route(json.dumps([]).encode())
    own_redis.stop()

    summary = tick()

    with session_scope() as session:
        runs = session.query(PipelineRun).all()
    assert [r.status for r in runs] == ["ok"]
    assert summary.seconds < get_settings().PIPELINE_INTERVAL_SECONDS
    assert breakers.degraded()
