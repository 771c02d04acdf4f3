import subprocess

import pybreaker
import pytest
import redis

from engine import breakers
from engine.db import session_scope
from engine.models import CircuitEvent
from tests.fake_sources import configure

KEYS = ("state", "fail_counter", "success_counter", "opened_at")


class Outage(ConnectionError):
    pass


def _fail(name: str, times: int) -> list[str]:
    outcomes = []
    for _ in range(times):
        try:
            breakers.breaker(name).call(_raise)
        except breakers.CircuitOpenError:
            outcomes.append("open")
        except Outage:
            outcomes.append("failed")
    return outcomes


def _raise():
    raise Outage("connection refused")


def _ok():
    return "ok"


@pytest.fixture
def shared(pg_env, redis_url, monkeypatch):
    configure(monkeypatch)
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_state_under_circuit_keys(shared):
    assert _fail("polymarket", 5) == ["failed"] * 4 + ["open"]

    assert shared.get("circuit:polymarket:state") == b"open"
    assert shared.get("circuit:polymarket:fail_counter") == b"5"
    assert float(shared.get("circuit:polymarket:opened_at")) > 0
    assert not shared.keys("pybreaker*")
    assert breakers.snapshot()["polymarket"]["state"] == "open"


def test_only_failing_circuit_opens(shared):
    for name in ("ais", "news", "twilio"):
        breakers.breaker(name).call(_ok)

    _fail("polymarket", 5)
    for name in ("ais", "news", "twilio"):
        breakers.breaker(name).call(_ok)

    circuits = breakers.snapshot()
    assert circuits["polymarket"]["state"] == "open"
    assert [n for n, c in circuits.items() if c["state"] != "closed"] == ["polymarket"]
    polymarket_keys = {k.decode() for k in shared.keys("circuit:polymarket:*")}
    assert polymarket_keys == {f"circuit:polymarket:{k}" for k in KEYS}
    assert shared.get("circuit:ais:fail_counter") == b"0"
    assert shared.get("circuit:ais:state") in (None, b"closed")


def test_redis_cli_set_opens(shared, redis_url):
    subprocess.run(["redis-cli", "-u", redis_url, "SET", "circuit:polymarket:state", "open"],
                   check=True, capture_output=True)

    snapshot = breakers.snapshot()["polymarket"]
    with pytest.raises(breakers.CircuitOpenError) as error:
        breakers.breaker("polymarket").call(_ok)

    assert snapshot["state"] == "open"
    assert snapshot["opened_at"] is not None
    assert "circuit polymarket is open" in str(error.value)
    assert "redis-cli DEL circuit:polymarket:state" in str(error.value)


def test_redis_cli_del_closes(shared, redis_url):
    _fail("polymarket", 5)

    subprocess.run(["redis-cli", "-u", redis_url, "DEL", "circuit:polymarket:state"],
                   check=True, capture_output=True)

    assert breakers.snapshot()["polymarket"]["state"] == "closed"
    assert breakers.snapshot()["polymarket"]["failure_count"] == 0
    assert breakers.breaker("polymarket").call(_ok) == "ok"
    with session_scope() as session:
        events = breakers.history(session, "polymarket")
    assert [(e.from_state, e.to_state) for e in events] == [("open", "closed"),
                                                           ("closed", "open")]
    assert "shared state" in events[0].reason


def test_flush_reads_closed_then_reopens(shared):
    _fail("polymarket", 5)

    shared.flushdb()

    assert breakers.snapshot()["polymarket"]["state"] == "closed"
    assert _fail("polymarket", 5) == ["failed"] * 4 + ["open"]
    assert shared.get("circuit:polymarket:state") == b"open"


def test_unknown_value_reads_closed(shared):
    shared.set("circuit:news:state", "banana")

    assert breakers.snapshot()["news"]["state"] == "closed"
    assert breakers.breaker("news").call(_ok) == "ok"


def test_uppercase_value_accepted(shared):
    shared.set("circuit:news:state", "OPEN")

    assert breakers.snapshot()["news"]["state"] == "open"


def test_reset_records_event(shared):
    _fail("twilio", 3)

    state = breakers.reset("twilio", actor="ops@example.com", reason="Twilio recovered")

    assert state["state"] == "closed"
    assert state["failure_count"] == 0
    assert shared.get("circuit:twilio:state") == b"closed"
    with session_scope() as session:
        rows = breakers.history(session, "twilio")
    assert [(r.from_state, r.to_state) for r in rows] == [("open", "closed"), ("closed", "open")]
    assert rows[0].reason == "reset by ops@example.com: Twilio recovered"
    assert "3 consecutive failures" in rows[1].reason
    assert "Outage: connection refused" in rows[1].reason


def test_half_open_after_timeout(shared):
    _fail("ais", 5)
    # The recovery timeout has passed once opened_at lies far enough back.
    shared.set("circuit:ais:opened_at", "1000")

    assert breakers.breaker("ais").call(_ok) == "ok"

    assert breakers.snapshot()["ais"]["state"] == "closed"
    with session_scope() as session:
        rows = breakers.history(session, "ais")
    assert [r.to_state for r in rows] == ["closed", "half-open", "open"]
    assert rows[0].reason == "trial call succeeded"


def test_unknown_circuit_named(shared):
    with pytest.raises(breakers.UnknownBreakerError) as error:
        breakers.reset("stripe")

    assert isinstance(error.value, KeyError)
    assert "'stripe'" in str(error.value)
    assert "polymarket" in str(error.value)
    with pytest.raises(breakers.UnknownBreakerError):
        breakers.breaker("stripe")


def test_snapshot_lists_six(shared):
    snapshot = breakers.snapshot()

    assert list(snapshot) == ["polymarket", "twilio", "ais", "news", "database", "redis"]
    assert [(c["fail_max"], c["reset_timeout"]) for c in snapshot.values()] == [
        (5, 60), (3, 30), (5, 45), (10, 120), (3, 15), (5, 10)]
    assert all(c["storage"] == "redis" for c in snapshot.values())


def test_thresholds_from_settings(shared, monkeypatch):
    configure(monkeypatch, CIRCUIT_POLYMARKET_FAIL_MAX="2", CIRCUIT_POLYMARKET_RESET_TIMEOUT="7")

    assert _fail("polymarket", 3) == ["failed", "open", "open"]
    assert breakers.snapshot()["polymarket"]["reset_timeout"] == 7


def test_open_error_is_pybreaker_error(shared):
    _fail("news", 10)

    with pytest.raises(pybreaker.CircuitBreakerError) as error:
        breakers.breaker("news").call(_ok)

    assert error.value.name == "news"
    assert error.value.retry_at is not None


def test_events_wait_while_database_down(shared, monkeypatch):
    def broken_engine():
        raise OSError("database down")

    monkeypatch.setattr("engine.db.get_engine", broken_engine)
    _fail("database", 3)
    monkeypatch.undo()

    assert [e.to_state for e in breakers.events.pending()] == ["open"]
    with session_scope() as session:
        assert breakers.flush_events(session) == 1
    with session_scope() as session:
        assert session.query(CircuitEvent).filter_by(name="database").count() == 1


def test_events_requeued_on_rollback(shared):
    breakers.events._pending.append(
        breakers.events.PendingEvent("redis", "closed", "open", "test"))

    with pytest.raises(RuntimeError):
        with session_scope() as session:
            breakers.flush_events(session)
            raise RuntimeError("tick failed")

    assert [e.to_state for e in breakers.events.pending()] == ["open"]
