"""Property-based fuzzing of every source parser, 1,000 generated payloads each.

Each payload mixes records built to be valid with records broken in one
field. No exception may escape; every broken record is rejected with a
reason; every valid record is kept.
"""

import csv
import io
import json
from datetime import date, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.reality import ais, freight, portwatch
from engine.signals import gdelt, polymarket

FUZZ = settings(max_examples=1000, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
AT = datetime(2024, 1, 10, tzinfo=timezone.utc)

junk = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                 st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3),
                                                                       st.integers(), max_size=2))


# -- Polymarket -------------------------------------------------------------------------

good_price = st.floats(0, 1, allow_nan=False)
bad_prices = st.one_of(
    st.none(), st.just("[]"), st.just([]), st.just("[0.5"), st.just('["0.5"]'),
    st.lists(good_price.map(str), min_size=3, max_size=4),
    st.floats(1.01, 1e6).map(lambda x: [str(x), str(-x)]),
    st.text(alphabet="abc", min_size=1, max_size=4).map(lambda t: [t, t]),
)


@st.composite
def market(draw, index: int, good: bool) -> dict:
    yes = draw(good_price)
    prices = [str(yes), str(1 - yes)]
    record = {
        "conditionId": f"0x{index:04x}",
        "question": f"Will shipping through the Red Sea stop {index}?",
        "outcomes": draw(st.sampled_from(['["Yes", "No"]', ["Yes", "No"], ["No", "Yes"]])),
        "outcomePrices": draw(st.sampled_from([json.dumps(prices), prices])),
        "closedTime": draw(st.sampled_from(["2024-01-05 10:00:00+00", "2024-01-05T10:00:00Z"])),
    }
    if record["outcomes"] == ["No", "Yes"]:
        record["outcomePrices"] = list(reversed(prices))
    if not good:
        broken = draw(st.sampled_from(["prices", "outcomes", "time"]))
        if broken == "prices":
            record["outcomePrices"] = draw(bad_prices)
        elif broken == "outcomes":
            record["outcomes"] = draw(st.one_of(st.none(), st.just("[]"), st.just('["Up"]'),
                                                st.just("{")))
        else:
            record["closedTime"] = draw(st.sampled_from(["yesterday", "2024-13-45", 17]))
    return record


@st.composite
def market_page(draw):
    flags = draw(st.lists(st.booleans(), min_size=1, max_size=8))
    markets = [draw(market(i, good)) for i, good in enumerate(flags)]
    extra = draw(st.lists(junk, max_size=2))
    return markets + extra, flags, len(extra)


@FUZZ
@given(market_page())
def test_polymarket_markets(case):
    markets, flags, extra = case

    records, rejected = polymarket.parse_markets(markets)

    kept = {r.external_id for r in records}
    refused = {r.reference for r in rejected}
    for index, good in enumerate(flags):
        reference = f"0x{index:04x}"
        assert (reference in kept) == good
        assert (reference in refused) == (not good)
    assert len(rejected) == flags.count(False) + extra
    assert all(r.reason for r in rejected)
    assert all(0.0 <= r.probability <= 1.0 for r in records)


@FUZZ
@given(st.one_of(st.binary(max_size=64), st.text(max_size=64),
                 st.recursive(junk, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
                 .map(json.dumps)))
def test_polymarket_payload(body):
    records, rejected = polymarket.parse_payload(body)

    assert all(r.reason for r in rejected)
    assert all(0.0 <= r.probability <= 1.0 for r in records)


# -- GDELT ------------------------------------------------------------------------------

counts = st.integers(0, 5000).map(str)
bad_counts = st.sampled_from(["", "n/a", "-3", "inf", "nan"])


@st.composite
def weekly_csv(draw):
    rows, bad_lines = [], set()
    start = date(2023, 1, 6)
    for week in range(draw(st.integers(1, 14))):
        values = {theme: draw(counts) for theme in gdelt.THEMES}
        day = (start + timedelta(weeks=week)).isoformat()
        if draw(st.booleans()) and week % 3 == 0:
            if draw(st.booleans()):
                day = draw(st.sampled_from(["", "2023-02-30", "week 5"]))
            else:
                values[draw(st.sampled_from(sorted(gdelt.THEMES)))] = draw(bad_counts)
            bad_lines.add(f"line {week + 2}")
        rows.append({"event_date": day, **values})
    out = io.StringIO()
    writer = csv.DictWriter(out, ["event_date", *gdelt.THEMES])
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue(), bad_lines


@FUZZ
@given(weekly_csv())
def test_gdelt_weekly(case):
    text, bad_lines = case

    records, rejected = gdelt.parse_weekly_text(text)

    assert {r.reference for r in rejected} == bad_lines
    assert all(r.reason for r in rejected)
    assert all(0.0 <= r.probability <= 0.95 for r in records)


@st.composite
def timeline(draw):
    points, bad = [], set()
    for index in range(draw(st.integers(0, 16))):
        point = {"date": (date(2024, 1, 1) + timedelta(days=index)).strftime("%Y%m%dT000000Z"),
                 "value": draw(st.integers(0, 900)), "norm": draw(st.integers(0, 10**5))}
        if draw(st.integers(0, 4)) == 0:
            point[draw(st.sampled_from(["date", "value"]))] = draw(
                st.sampled_from([None, "", "many", -1, float("nan"), [3]]))
            bad.add(f"doc:suez point {index}")
        points.append(point)
    return json.dumps({"timeline": [{"series": "x", "data": points}]}), bad, len(points)


@FUZZ
@given(st.one_of(timeline(), st.text(max_size=40).map(lambda t: (t, None, 0))))
def test_gdelt_timeline(case):
    body, bad, total = case

    records, rejected = gdelt.parse_timeline(body, "suez", today=date(2024, 2, 1))

    assert all(r.reason for r in rejected)
    if bad is not None:
        assert {r.reference for r in rejected} == bad
        assert len({r.observed_at for r in records}) <= total - len(bad)
    assert all(0.0 <= r.probability <= 0.95 for r in records)


# -- PortWatch and freight ------------------------------------------------------------------


@st.composite
def portwatch_csv(draw):
    lines, bad = ["date,portid,n_total"], set()
    for index in range(draw(st.integers(0, 40))):
        day = (date(2023, 1, 1) + timedelta(days=index)).strftime("%Y/%m/%d 00:00:00+00")
        portid = draw(st.sampled_from(["chokepoint1", "chokepoint4"]))
        total = str(draw(st.integers(0, 120)))
        if draw(st.integers(0, 5)) == 0:
            choice = draw(st.sampled_from(["date", "portid", "total"]))
            if choice == "date":
                day = draw(st.sampled_from(["", "soon", "2023/02/31"]))
            elif choice == "portid":
                portid = "chokepoint99"
            else:
                total = draw(st.sampled_from(["", "-4", "many", "inf"]))
            bad.add(f"line {index + 2}")
        lines.append(f"{day},{portid},{total}")
    return "\n".join(lines) + "\n", bad


@FUZZ
@given(portwatch_csv())
def test_portwatch_daily(case):
    text, bad = case

    series, rejected = portwatch.parse_daily_text(text)
    records = portwatch.observations(series)

    assert {r.reference for r in rejected} == bad
    assert all(r.reason for r in rejected)
    assert sum(len(days) for days in series.values()) <= text.count("\n") - 1 - len(bad)
    assert all(r.value >= 0 for r in records)


@st.composite
def freight_payload(draw):
    rows, bad = [], set()
    for index in range(draw(st.integers(0, 14))):
        week = date(2023, 1, 6) + timedelta(weeks=index)
        row = {"week": week.isoformat() if draw(st.booleans()) else
               f"{week.month}/{week.day}/{week.year}"}
        row.update({column: str(draw(st.integers(100, 9000))) for column in freight.ROUTES})
        if draw(st.integers(0, 4)) == 0:
            if draw(st.booleans()):
                row["week"] = draw(st.sampled_from(["", "13/45/2023", "next week"]))
            else:
                row[draw(st.sampled_from(sorted(freight.ROUTES)))] = draw(
                    st.sampled_from(["", "0", "-5", "n/a"]))
            bad.add(index)
        rows.append(row)
    as_json = draw(st.booleans())
    if as_json:
        return json.dumps(rows), {f"item {i}" for i in bad}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["", "", "Shanghai Containerized Freight Index", "", "USD/TEU"])
    writer.writerow(["the period", "Comprehensive Index", *freight.ROUTES])
    for row in rows:
        writer.writerow([row["week"], "1000", *[row[c] for c in freight.ROUTES]])
    return out.getvalue(), {f"line {i + 3}" for i in bad}


@FUZZ
@given(st.one_of(freight_payload(), st.binary(max_size=40).map(lambda b: (b, None))))
def test_freight_rates(case):
    payload, bad = case

    records, rejected = freight.parse_payload(payload)

    assert all(r.reason for r in rejected)
    if bad is not None:
        assert {r.reference for r in rejected} == bad
    assert all(r.value > 0 and r.baseline > 0 for r in records)


# -- AIS -----------------------------------------------------------------------------------

good_lat = st.floats(-90, 90, allow_nan=False)
good_lon = st.floats(-180, 180, allow_nan=False)


@st.composite
def ais_csv(draw):
    legacy = draw(st.booleans())
    header = ("MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading" if legacy
              else "mmsi,base_date_time,latitude,longitude,sog,cog,heading")
    lines, bad = [header], set()
    for index in range(draw(st.integers(0, 10))):
        mmsi, when = str(draw(st.integers(100000000, 999999999))), "2024-01-10T08:00:00"
        lat, lon = f"{draw(good_lat):.5f}", f"{draw(good_lon):.5f}"
        if draw(st.integers(0, 3)) == 0:
            field = draw(st.sampled_from(["mmsi", "time", "lat", "lon"]))
            if field == "mmsi":
                mmsi = draw(st.sampled_from(["", "0", "abc", "1e12"]))
            elif field == "time":
                when = draw(st.sampled_from(["", "noon", "2024-02-30T00:00:00"]))
            elif field == "lat":
                lat = draw(st.sampled_from(["91", "91.0", "-95", "", "x"]))
            else:
                lon = draw(st.sampled_from(["181", "200", "", "nan"]))
            bad.add(f"line {index + 2}")
        speed = draw(st.sampled_from(["102.3", "12.5", ""]))
        heading = draw(st.sampled_from(["511", "90", ""]))
        lines.append(f"{mmsi},{when},{lat},{lon},{speed},360,{heading}")
    return "\n".join(lines) + "\n", bad


@FUZZ
@given(ais_csv())
def test_ais_csv(case):
    text, bad = case

    positions, rejected = ais.parse_csv(text)

    assert {r.reference for r in rejected} == bad
    assert all(r.reason for r in rejected)
    assert len(positions) == text.count("\n") - 1 - len(bad)
    assert all(p.heading != 511 and p.speed != 102.3 for p in positions)
    assert all(-90 <= p.lat <= 90 and -180 <= p.lon <= 180 for p in positions)


@st.composite
def ais_stream(draw):
    messages, bad = [], set()
    for index in range(draw(st.integers(0, 8))):
        body = {"UserID": draw(st.integers(100000000, 999999999)), "Latitude": draw(good_lat),
                "Longitude": draw(good_lon), "Sog": 10.0, "Cog": 120.0, "TrueHeading": 511}
        message = {"MessageType": "PositionReport",
                   "MetaData": {"time_utc": "2024-01-10 08:00:00.5 +0000 UTC"},
                   "Message": {"PositionReport": body}}
        if draw(st.integers(0, 3)) == 0:
            broken = draw(st.sampled_from(["lat", "time", "shape", "text"]))
            if broken == "lat":
                body["Latitude"] = 91
            elif broken == "time":
                message["MetaData"]["time_utc"] = draw(st.sampled_from([None, "", "later"]))
            elif broken == "shape":
                message["Message"] = draw(junk)
            else:
                message = draw(st.text(max_size=10).map(lambda t: "{" + t))
            bad.add(f"message {index}")
        messages.append(message if isinstance(message, str) else json.dumps(message))
    return messages, bad


@FUZZ
@given(ais_stream())
def test_ais_stream(case):
    messages, bad = case

    positions, rejected = ais.parse_stream(messages)

    assert {r.reference for r in rejected} == bad
    assert all(r.reason for r in rejected)
    assert len(positions) == len(messages) - len(bad)
    assert all(p.heading is None for p in positions)


SENTENCES = [
    b"!AIVDM,1,1,,A,13RlIW?04F1beOVEFLB9bRvH0L0L,0*6C",
    b"!AIVDM,1,1,,B,15TJvF00211TS9NDoHel<CEp2`6h,0*61",
    b"!AIVDM,1,1,,A,14S:lr02j>1Tv?LDi:;5:D8F0H6L,0*79",
]


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(SENTENCES), st.binary(max_size=30),
                          st.text(max_size=30).map(lambda t: "!AIVDM," + t)), max_size=8))
def test_ais_nmea(lines):
    positions, rejected = ais.parse_nmea(lines, AT)

    good = sum(1 for line in lines if line in SENTENCES)
    assert len(positions) >= good
    assert all(r.reason for r in rejected)
    assert all(-90 <= p.lat <= 90 and -180 <= p.lon <= 180 for p in positions)
