import json

import pytest
from sqlalchemy import func, select

from engine import breakers, ingest, sources
from engine.clock import domain_now
from engine.db import session_scope
from engine.metrics import SOURCE_DATA_ERRORS
from engine.models import Signal, SourceStatus
from engine.models.base import utcnow
from engine.settings import get_settings
from engine.signals import polymarket
from engine.sources.polymarket import PolymarketAdapter
from tests.fake_sources import Route, configure, fake_http, live_env  # noqa: F401

GOOD_PRICES = ('["0.31", "0.69"]', ["0.31", "0.69"])
BAD_PRICES = {
    "null": None,
    "empty string list": "[]",
    "empty list": [],
    "fewer prices": '["0.5"]',
    "more prices": ["0.1", "0.2", "0.7"],
    "not json": "[0.4, ",
    "out of range": ["1.7", "-0.7"],
}


def _market(index: int, prices) -> dict:
    return {
        "id": str(1000 + index),
        "conditionId": f"0x{index:064x}",
        "question": f"Will the Houthis attack a ship in the Red Sea by week {index}?",
        "outcomes": '["Yes", "No"]' if index % 2 else ["Yes", "No"],
        "outcomePrices": prices,
        "updatedAt": "2026-12-04T08:00:00Z",
        "slug": f"houthi-red-sea-{index}",
    }


def _page(bad_prices) -> list[dict]:
    markets = [_market(i, GOOD_PRICES[i % 2]) for i in range(50)]
    markets[17] = _market(17, bad_prices)
    return markets


def _data_errors() -> float:
    return SOURCE_DATA_ERRORS.labels("polymarket")._value.get()


@pytest.mark.parametrize("case", sorted(BAD_PRICES))
def test_bad_market_skipped_rest_stored(live_env, case):
    live_env.routes["/events"] = Route(json.dumps(_page(BAD_PRICES[case])).encode())
    errors_before = _data_errors()

    with session_scope() as session:
        result = ingest.run(session, get_settings(), domain_now(session, get_settings()))

    assert result.sources["polymarket"].outcome == "ok"
    assert _data_errors() - errors_before == 1
    with session_scope() as session:
        stored = session.scalars(select(Signal).where(Signal.source == "polymarket")).all()
        status = session.get(SourceStatus, "polymarket")
    assert len(stored) == 49
    assert {s.external_id for s in stored}.isdisjoint({f"0x{17:064x}"})
    assert all(0.0 <= s.probability <= 1.0 for s in stored)
    assert {s.probability for s in stored} == {0.31}
    assert status.data_errors_total == 1
    assert breakers.snapshot()["polymarket"]["failure_count"] == 0
    assert breakers.snapshot()["polymarket"]["state"] == "closed"


def test_string_and_list_prices_parse_alike():
    as_string, _ = polymarket.parse_markets([_market(1, '["0.25", "0.75"]')])
    as_list, _ = polymarket.parse_markets([_market(1, ["0.25", "0.75"])])

    assert as_string[0].probability == 0.25
    assert as_string == as_list


def test_unparsable_page_is_data_error(live_env):
    live_env.routes["/events"] = Route(b"<html>maintenance</html>", content_type="text/html")

    for _ in range(6):
        with session_scope() as session:
            result = ingest.run(session, get_settings(), domain_now(session, get_settings()))

    assert result.sources["polymarket"].outcome == "ok"
    assert result.sources["polymarket"].new_rejections == 1
    assert breakers.snapshot()["polymarket"]["state"] == "closed"
    assert breakers.snapshot()["polymarket"]["failure_count"] == 0


def test_server_errors_open_circuit(live_env):
    live_env.routes["/events"] = Route(b"{}", status=503)

    outcomes = []
    for _ in range(7):
        with session_scope() as session:
            result = ingest.run(session, get_settings(), domain_now(session, get_settings()))
        outcomes.append(result.sources["polymarket"].outcome)

    assert outcomes == ["failed"] * 5 + ["circuit_open"] * 2
    assert live_env.count("/events") == 5
    with session_scope() as session:
        status = session.get(SourceStatus, "polymarket")
        events = breakers.history(session, "polymarket")
    assert "circuit polymarket is open" in status.last_error
    assert status.last_success_at is None
    assert [(e.from_state, e.to_state) for e in events] == [("closed", "open")]
    assert "HTTP 503" in events[0].reason


def test_pages_until_short_page(live_env, monkeypatch):
    configure(monkeypatch, POLYMARKET_PAGE_SIZE="20")
    markets = [_market(i, GOOD_PRICES[0]) for i in range(45)]

    def page(query: dict) -> bytes:
        offset, limit = int(query["offset"]), int(query["limit"])
        return json.dumps(markets[offset : offset + limit]).encode()

    live_env.routes["/events"] = Route(page)

    with session_scope() as session:
        result = ingest.run(session, get_settings(), domain_now(session, get_settings()))

    assert result.signals == 45
    assert [q["offset"] for p, q in live_env.requests if p == "/events"] == ["0", "20", "40"]
    assert all(q["closed"] == "false" for p, q in live_env.requests if p == "/events")


def test_live_matches_replay(fake_http, monkeypatch):
    configure(monkeypatch, POLYMARKET_API_URL=fake_http.url, POLYMARKET_PAGE_SIZE="100")
    markets = json.loads(polymarket.MARKETS_FILE.read_bytes())
    fake_http.routes["/events"] = Route(
        lambda q: json.dumps(markets[int(q["offset"]) : int(q["offset"]) + 100]).encode()
    )
    settings = get_settings()
    live = PolymarketAdapter(settings, "live")
    replay = PolymarketAdapter(settings, "replay")
    as_of = utcnow()

    live_parsed = live.parse(live.fetch(as_of, breakers.breaker("polymarket").call).payload,
                             as_of)
    replay_parsed = replay.parse(replay.fetch(as_of, lambda f, *a: f(*a)).payload, as_of)

    assert len(live_parsed.signals) == 249
    assert live_parsed.signals == replay_parsed.signals
    assert [s.payload for s in live_parsed.signals] == [s.payload for s in replay_parsed.signals]
    # References of markets without an id are positions on their page.
    assert [r.reason for r in live_parsed.rejected] == [r.reason for r in replay_parsed.rejected]
    assert fake_http.count("/events") == 4


def test_events_flattened_with_title():
    events = [{"title": "Houthi attacks on shipping", "markets": [
        {**_market(1, GOOD_PRICES[0]), "question": "Before March 31?"}]}]

    signals, rejected = polymarket.parse_markets(events)

    assert rejected == []
    assert signals[0].chokepoint == "bab_el_mandeb"
    assert signals[0].payload["eventTitle"] == "Houthi attacks on shipping"


def test_keyword_rules_file(tmp_path, monkeypatch):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"pattern": "week 3\\b", "chokepoint": "panama",
                                  "category": "traffic"}]))
    configure(monkeypatch, POLYMARKET_KEYWORD_RULES_FILE=str(rules))

    adapter = sources.build(get_settings(), "live")[0]
    signals, _ = polymarket.parse_markets([_market(3, GOOD_PRICES[0]),
                                           _market(4, GOOD_PRICES[0])], adapter.rules)

    assert [(s.external_id, s.chokepoint, s.category) for s in signals] == [
        (f"0x{3:064x}", "panama", "traffic")]
    configure(monkeypatch, POLYMARKET_KEYWORD_RULES_FILE=None)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[{"pattern": "x", "chokepoint": "atlantis"}]', "chokepoint 'atlantis' is unknown"),
        ('[{"pattern": "(", "chokepoint": "suez"}]', "not a valid regex"),
        ("{}", "non-empty JSON list"),
    ],
)
def test_bad_rules_named(tmp_path, content, expected):
    rules = tmp_path / "rules.json"
    rules.write_text(content)

    with pytest.raises(polymarket.RulesError) as error:
        polymarket.load_rules(rules)

    assert expected in str(error.value)
    assert str(rules) in str(error.value)


def test_stored_rows_count(live_env):
    live_env.routes["/events"] = Route(json.dumps(_page(GOOD_PRICES[0])).encode())

    with session_scope() as session:
        ingest.run(session, get_settings(), domain_now(session, get_settings()))
        ingest.run(session, get_settings(), domain_now(session, get_settings()))
        count = session.scalar(select(func.count()).select_from(Signal))

    assert count == 50
