from datetime import datetime, timedelta, timezone

import pytest
import redis
from sqlalchemy import select

from engine import breakers, ingest
from engine.db import session_scope
from engine.http import SourceUnavailable
from engine.models import RealityObservation, SourceStatus, VesselSighting
from engine.reality import ais, transits
from engine.settings import get_settings
from engine.sources.ais import REPLAY_FILES, AisAdapter
from tests.fake_sources import (  # noqa: F401
    FakeAisStream,
    Route,
    SilentServer,
    configure,
    fake_http,
    live_env,
    position_message,
    static_message,
)

DAY = datetime(2024, 1, 10, tzinfo=timezone.utc)


def _no_guard(function, *args):
    return function(*args)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [("lat", 91, "latitude is not available"), ("lon", 181, "longitude is not available"),
     ("lat", 95, "outside"), ("mmsi", 0, "MMSI")],
)
def test_unusable_position_rejected(field, value, reason):
    values = {"mmsi": 636018568, "at": DAY, "lat": 12.6, "lon": 43.3}
    values[field] = value

    with pytest.raises(ais.PositionError) as error:
        ais.build(**values)

    assert reason in str(error.value)


def test_not_available_fields_missing():
    position = ais.build(636018568, DAY, 12.6, 43.3, speed=102.3, course=360, heading=511)

    assert position.speed is None
    assert position.course is None
    assert position.heading is None


def test_both_marinecadastre_schemas():
    legacy, legacy_rejected = ais.parse_csv(REPLAY_FILES[0].read_bytes())
    csv2, csv2_rejected = ais.parse_csv(REPLAY_FILES[1].read_bytes())

    assert (len(legacy), len(csv2)) == (51, 10)
    assert legacy_rejected == csv2_rejected == []
    assert csv2[0].lon == -70.25298
    assert csv2[0].lat == 43.65322
    assert legacy[1].heading is None  # 511 in the file


def test_nmea_sample_decoded():
    from engine.geography import DATASETS

    lines = (DATASETS / "pyais_nmea_aivdm_sample.txt").read_bytes().splitlines()
    positions, rejected = ais.parse_nmea(lines, DAY)

    assert len(positions) > 700
    assert sum(r.reason == "latitude is not available" for r in rejected) == 4
    assert all(-90 <= p.lat <= 90 and -180 <= p.lon <= 180 for p in positions)


def test_export_live_matches_replay(fake_http, monkeypatch):
    configure(monkeypatch, AIS_EXPORT_URL=fake_http.url + "/ais", AIS_API_KEY=None)
    fake_http.routes["/ais"] = Route(REPLAY_FILES[1].read_bytes(), content_type="text/csv")
    settings = get_settings()
    live, replay = AisAdapter(settings, "live"), AisAdapter(settings, "replay")

    live_parsed = live.parse(live.fetch(DAY, _no_guard).payload, DAY)
    replay_parsed = replay.parse({"export": [REPLAY_FILES[1].read_bytes()]}, DAY)

    # The export is asked once per chokepoint area, so each position comes back 9 times.
    assert live_parsed.positions == replay_parsed.positions * 9
    bboxes = [q["bbox"] for p, q in fake_http.requests if p == "/ais"]
    assert "43.05,12.35,43.65,13.0" in bboxes
    assert len(bboxes) == 9


def test_stream_subscription_and_positions(monkeypatch):
    when = "2024-01-10 08:00:00.123456 +0000 UTC"
    stream = FakeAisStream([
        static_message(477000001, 71, "NLRTM", when),
        position_message(477000001, -34.9, 19.5, when, cog=280.0),
        position_message(477000002, 12.6, 43.3, when),
        position_message(477000003, 91.0, 181.0, when),
        "not json",
    ])
    configure(monkeypatch, AIS_WS_URL=stream.url, AIS_API_KEY="key-123", AIS_EXPORT_URL=None,
              AIS_WS_WINDOW_SECONDS="1")
    adapter = AisAdapter(get_settings(), "live")
    try:
        fetched = adapter.fetch(DAY, _no_guard)
    finally:
        stream.close()

    parsed = adapter.parse(fetched.payload, DAY)

    assert stream.subscriptions[0]["APIKey"] == "key-123"
    assert [12.35, 43.05] in [box[0] for box in stream.subscriptions[0]["BoundingBoxes"]]
    assert [p.mmsi for p in parsed.positions] == [477000001, 477000002]
    assert parsed.positions[0].ship_type == 71
    assert parsed.positions[0].destination == "NLRTM"
    assert sorted(r.reason[:22] for r in parsed.rejected) == [
        "latitude is not availa", "not valid JSON: Expect"]


def test_silent_stream_times_out(monkeypatch):
    server = SilentServer()
    configure(monkeypatch, AIS_WS_URL=f"ws://127.0.0.1:{server.port}", AIS_API_KEY="k",
              AIS_EXPORT_URL=None, SOURCE_CONNECT_TIMEOUT_SECONDS="0.3")
    try:
        with pytest.raises(SourceUnavailable) as error:
            AisAdapter(get_settings(), "live").fetch(DAY, _no_guard)
    finally:
        server.close()

    assert "handshake" in str(error.value)


def test_sightings_make_daily_counts(pg_env):
    def pos(mmsi, lat, lon, day, ship_type=70, course=300.0, destination=None):
        return ais.Position(mmsi, DAY + timedelta(days=day, hours=3), lat, lon,
                            course=course, ship_type=ship_type, destination=destination)

    positions = [pos(100 + n, 12.6, 43.3, day) for day in range(8) for n in range(10)]
    positions += [pos(200 + n, 12.6, 43.3, 8) for n in range(2)]
    positions += [pos(300, -34.9, 19.5, 8), pos(301, -34.9, 19.5, 8, course=100.0),
                  pos(302, -34.9, 19.5, 8, destination="SGSIN"),
                  pos(303, -34.9, 19.5, 8, ship_type=80)]

    with session_scope() as session:
        assert transits.store_sightings(session, positions) == 86
        assert transits.store_sightings(session, positions) == 0
        records = transits.daily_observations(session, DAY + timedelta(days=9))

    red_sea = [r for r in records if r.chokepoint == "bab_el_mandeb"]
    assert [r.value for r in red_sea] == [10.0] * 8 + [2.0]
    assert red_sea[-1].baseline == 10.0
    assert red_sea[-1].change_pct == -80.0
    cape = {r.metric: r for r in records if r.chokepoint == "cape"}
    assert cape["cape_diversions"].value == 1.0
    assert cape["ais_transits"].value == 4.0


def test_silent_export_opens_circuit_then_recovers(live_env, redis_url, monkeypatch):
    server = SilentServer()
    configure(monkeypatch, AIS_EXPORT_URL=f"http://127.0.0.1:{server.port}/ais",
              PORTWATCH_URL=None)
    outcomes = []
    try:
        for _ in range(7):
            with session_scope() as session:
                result = ingest.run(session, get_settings(), datetime.now(timezone.utc))
            outcomes.append(result.sources["ais"].outcome)
    finally:
        server.close()

    assert outcomes == ["failed"] * 5 + ["circuit_open"] * 2
    with session_scope() as session:
        status = session.get(SourceStatus, "ais")
    assert "timed out" in breakers.snapshot()["ais"]["last_error"]
    assert status.last_failure_at is not None

    live_env.routes["/ais"] = Route(REPLAY_FILES[1].read_bytes(), content_type="text/csv")
    configure(monkeypatch, AIS_EXPORT_URL=live_env.url + "/ais")
    redis.Redis.from_url(redis_url).set("circuit:ais:opened_at", "1000")
    with session_scope() as session:
        result = ingest.run(session, get_settings(), datetime(2024, 1, 2, tzinfo=timezone.utc))
        sightings = session.scalars(select(VesselSighting)).all()
        observations = session.scalars(
            select(RealityObservation).where(RealityObservation.source == "ais")).all()

    assert result.sources["ais"].outcome == "ok"
    assert breakers.snapshot()["ais"]["state"] == "closed"
    # The bundled sample lies in US waters, outside every chokepoint area.
    assert sightings == []
    assert observations == []
