import json
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from engine import freshness, ingest
from engine.db import session_scope
from engine.models import RealityObservation, Reconciliation, Signal, SourceStatus
from engine.reality import freight, portwatch, reconcile
from engine.settings import get_settings
from engine.signals import gdelt
from engine.sources.freight import FreightAdapter
from engine.sources.gdelt import GdeltAdapter
from engine.sources.portwatch import PortWatchAdapter, parse_body
from tests.fake_sources import Route, configure, fake_http, live_env  # noqa: F401

AS_OF = datetime(2024, 1, 20, 12, tzinfo=timezone.utc)


def _no_guard(function, *args):
    return function(*args)


def _timeline(counts: list[int], start: date = date(2023, 12, 1)) -> bytes:
    data = [{"date": (start + timedelta(days=i)).strftime("%Y%m%dT000000Z"), "value": c,
             "norm": 50000} for i, c in enumerate(counts)]
    return json.dumps({"query_details": {}, "timeline": [{"series": "Article Count",
                                                          "data": data}]}).encode()


def test_timeline_ratio_to_baseline():
    body = _timeline([20] * 20 + [240])

    signals, rejected = gdelt.parse_timeline(body, "bab_el_mandeb", today=date(2024, 1, 1))

    assert rejected == []
    assert signals[-1].observed_at == datetime(2023, 12, 21, tzinfo=timezone.utc)
    assert signals[-1].probability == 0.95
    assert signals[0].probability == 0.0
    assert signals[-1].external_id == "doc:bab_el_mandeb:2023-12-21"


def test_timeline_skips_today_and_bad_points():
    points = json.loads(_timeline([10] * 12))
    points["timeline"][0]["data"][3]["value"] = "many"
    points["timeline"][0]["data"][4]["date"] = "yesterday"

    signals, rejected = gdelt.parse_timeline(json.dumps(points), "suez", today=date(2023, 12, 12))

    assert [r.reference for r in rejected] == ["doc:suez point 3", "doc:suez point 4"]
    assert max(s.observed_at for s in signals).date() == date(2023, 12, 11)


def test_gdelt_live_one_query_failing(fake_http, monkeypatch):
    configure(monkeypatch, GDELT_API_URL=fake_http.url + "/doc", SOURCE_READ_TIMEOUT_SECONDS="1")
    body = _timeline([10] * 30)

    def answer(query: dict) -> bytes:
        if "Suez" in query["query"]:
            return b"Your query was too short or too long."
        return body

    fake_http.routes["/doc"] = Route(answer)
    adapter = GdeltAdapter(get_settings(), "live")

    fetched = adapter.fetch(AS_OF, _no_guard)
    parsed = adapter.parse(fetched.payload, AS_OF)

    assert set(fetched.payload) == set(gdelt.DOC_QUERIES)
    assert fetched.errors == []
    assert {s.chokepoint for s in parsed.signals} == set(gdelt.DOC_QUERIES) - {"suez"}
    assert [r.reference for r in parsed.rejected] == ["doc:suez"]
    same, _ = gdelt.parse_timeline(body, "hormuz", today=AS_OF.date())
    assert [s for s in parsed.signals if s.chokepoint == "hormuz"] == same
    assert all(q["mode"] == "timelinevolraw" for _, q in fake_http.requests)


def test_portwatch_live_matches_file(fake_http, monkeypatch):
    body = portwatch.DAILY_FILE.read_bytes()
    fake_http.routes["/pw.csv"] = Route(body, content_type="text/csv")
    configure(monkeypatch, PORTWATCH_URL=fake_http.url + "/pw.csv")
    adapter = PortWatchAdapter(get_settings(), "live")

    parsed = adapter.parse(adapter.fetch(AS_OF, _no_guard).payload, AS_OF)

    series, _ = portwatch.read_daily()
    assert parsed.observations == portwatch.observations(series)
    assert parse_body(b"\xff\xfe").rejected[0].reason.startswith("body is not UTF-8")


def test_portwatch_single_chokepoint_layout():
    series, rejected = portwatch.read_daily(portwatch.HORMUZ_FILE, "hormuz")
    no_chokepoint, refused = portwatch.read_daily(portwatch.HORMUZ_FILE)

    assert len(series["hormuz"]) == 491
    assert rejected == []
    assert no_chokepoint == {}
    assert "portid column is missing" in refused[0].reason


def test_freight_csv_and_json_agree(fake_http, monkeypatch):
    csv_records, _ = freight.parse_weekly()
    rows = [{"week": r.observed_at.date().isoformat()} for r in csv_records]
    text = freight.WEEKLY_FILE.read_text(encoding="utf-8-sig").splitlines()[2:]
    as_json = []
    for line in text:
        cells = line.split(",")
        month, day, year = cells[0].split("/")
        as_json.append({"week": f"{year}-{int(month):02d}-{int(day):02d}",
                        "Europe (Base port)": cells[2], "Mediterranean (Base port)": cells[3],
                        "Persian Gulf and Red Sea (Dubai)": float(cells[4])})
    fake_http.routes["/rates.json"] = Route(json.dumps(as_json).encode())
    configure(monkeypatch, FREIGHT_RATES_URL=fake_http.url + "/rates.json")
    adapter = FreightAdapter(get_settings(), "live")

    parsed = adapter.parse(adapter.fetch(AS_OF, _no_guard).payload, AS_OF)

    assert rows
    assert parsed.observations == csv_records
    assert parsed.rejected == []


@pytest.mark.parametrize(
    ("probability", "change", "status"),
    [(0.8, -40.0, "CONFIRMED"), (0.8, -25.0, "CONFIRMED"), (0.8, -12.0, "MATERIALIZING"),
     (0.8, -5.0, "PREDICTED_NOT_OBSERVED"), (0.8, None, "PREDICTED_NOT_OBSERVED"),
     (0.2, -30.0, "SURPRISE"), (0.2, -12.0, "NORMAL"), (0.0, None, "NORMAL"),
     (0.5, -10.0, "MATERIALIZING")],
)
def test_classify(probability, change, status):
    assert reconcile.classify(probability, change) == status


def test_reconciliation_stored_with_inputs(pg_env):
    as_of = datetime(2023, 12, 20, tzinfo=timezone.utc)
    with session_scope() as session:
        session.add(Signal(source="polymarket", external_id="m1", chokepoint="bab_el_mandeb",
                           category="security", probability=0.8, observed_at=as_of))
        session.add(RealityObservation(source="portwatch", chokepoint="bab_el_mandeb",
                                       metric="transits_7d", value=30.0, baseline=60.0,
                                       change_pct=-50.0, observed_at=as_of))
        session.add(RealityObservation(source="portwatch", chokepoint="suez",
                                       metric="transits_7d", value=55.0, baseline=60.0,
                                       change_pct=-8.3, observed_at=as_of))
        session.flush()
        first = reconcile.reconcile_day(session, as_of)
        session.add(Signal(source="gdelt", external_id="g1", chokepoint="suez",
                           category="security", probability=0.9, observed_at=as_of))
        session.flush()
        second = reconcile.reconcile_day(session, as_of)
        rows = {r.chokepoint: r for r in session.scalars(select(Reconciliation))}

    assert first == {"bab_el_mandeb": "CONFIRMED", "suez": "NORMAL"}
    assert second["suez"] == "PREDICTED_NOT_OBSERVED"
    assert len(rows) == 2
    assert rows["suez"].status == "PREDICTED_NOT_OBSERVED"
    assert rows["bab_el_mandeb"].signal_probability == 0.8
    assert rows["bab_el_mandeb"].reality_change_pct == -50.0
    assert rows["bab_el_mandeb"].inputs["signals"][0]["source"] == "polymarket"
    assert rows["bab_el_mandeb"].inputs["transits"]["metric"] == "transits_7d"


def test_replay_tick_freshness(pg_env):
    settings = get_settings()
    as_of = datetime(2023, 12, 15, tzinfo=timezone.utc)
    with session_scope() as session:
        ingest.run(session, settings, as_of)
        signals = freshness.signals_health(session)
        oracle = freshness.oracle_health(session)
        stale = freshness.stale_sources(session)

    assert signals["sources"]["gdelt"]["status"] == "ok"
    assert signals["sources"]["gdelt"]["data_age_seconds"] == 0.0
    assert signals["sources"]["gdelt"]["circuit_name"] == "news"
    assert signals["sources"]["gdelt"]["circuit"] == "closed"
    assert oracle["sources"]["portwatch"]["stale"] is False
    assert oracle["sources"]["ais"]["status"] == "stale"
    assert oracle["sources"]["ais"]["circuit_state"] == "closed"
    assert "ais" in stale
    assert "portwatch" not in stale


def test_live_failure_marks_source(live_env):
    live_env.routes["/scfi.csv"] = Route(b"", status=502)

    with session_scope() as session:
        ingest.run(session, get_settings(), AS_OF)
        report = freshness.oracle_health(session)
        status = session.get(SourceStatus, "scfi")

    assert report["sources"]["scfi"]["status"] == "failing"
    assert "HTTP 502" in status.last_error
    assert status.last_success_at is None


def test_not_configured_source_reported(live_env, monkeypatch):
    configure(monkeypatch, PORTWATCH_URL=None)

    with session_scope() as session:
        result = ingest.run(session, get_settings(), AS_OF)
        report = freshness.oracle_health(session)

    assert result.sources["portwatch"].outcome == "not_configured"
    assert report["sources"]["portwatch"]["status"] == "not_configured"
    assert "PORTWATCH_URL" in report["sources"]["portwatch"]["last_error"]


def test_hanging_source_cut_by_budget(live_env, monkeypatch):
    configure(monkeypatch, SOURCE_FETCH_BUDGET_SECONDS="0.2", SOURCE_READ_TIMEOUT_SECONDS="2")
    live_env.routes["/scfi.csv"] = Route(hang=True)

    with session_scope() as session:
        result = ingest.run(session, get_settings(), AS_OF)
        status = session.get(SourceStatus, "scfi")

    assert result.sources["scfi"].outcome == "timed_out"
    assert "SOURCE_FETCH_BUDGET_SECONDS" in status.last_error
    assert status.last_failure_at is not None
