from datetime import timedelta

import pytest

from engine.decisions.routes import CLOSURE_WAIT_DAYS, plan_route, route_legs, timetable
from engine.geography import LANES, ports
from tests.decisions_helpers import AS_OF, frame, shipment


def test_shanghai_rotterdam_distances_match_published():
    plan = plan_route("ASIA_NEUR", "CNSGH", "NLRTM")
    bab = plan.legs[plan.chokepoints.index("bab_el_mandeb")]
    cape_distance = plan.distance_nm + bab.alternative_extra_days * 16 * 24

    # Rodrigue: about 10,600 nm via Suez and 13,800 nm via the Cape
    assert plan.distance_nm == pytest.approx(10_600, rel=0.06)
    assert cape_distance == pytest.approx(13_800, rel=0.06)


def test_cape_days_match_flexport():
    plan = plan_route("ASIA_NEUR", "CNSGH", "NLRTM")
    bab = plan.legs[plan.chokepoints.index("bab_el_mandeb")]

    # Flexport, December 2023: 8-10 days as planned, 13 from the Gulf of Aden
    assert 8.0 <= bab.alternative_extra_days <= 10.0
    assert bab.late_delay_days == pytest.approx(13.0, abs=1.0)
    assert bab.avoidable
    assert bab.alternative_chokepoints == ("taiwan", "cape", "dover")


def test_every_chokepoint_matched_in_order():
    plan = plan_route("ASIA_NEUR", "CNSGH", "NLRTM")
    progress = [leg.progress for leg in plan.legs]

    assert plan.chokepoints == ("taiwan", "malacca", "bab_el_mandeb", "suez", "gibraltar",
                                "dover")
    assert progress == sorted(progress)
    assert progress[0] > 0
    assert progress[-1] < 1


def test_singapore_skips_taiwan_strait():
    plan = plan_route("ASIA_NEUR", "SGKEP", "NLRTM")

    assert "taiwan" not in plan.chokepoints
    assert plan.chokepoints[0] == "malacca"


def test_diversion_point_is_dondra_head_from_asia():
    shanghai = plan_route("ASIA_NEUR", "CNSGH", "NLRTM")
    colombo = plan_route("INDIA_NEUR", "LKCMB", "NLRTM")
    bab = shanghai.legs[shanghai.chokepoints.index("bab_el_mandeb")]
    malacca = shanghai.legs[shanghai.chokepoints.index("malacca")]

    assert malacca.progress < bab.diversion_progress < bab.progress
    assert colombo.legs[0].chokepoint == "bab_el_mandeb"
    assert colombo.legs[0].diversion_progress == 0.0


def test_suez_late_turn_backtracks_red_sea():
    plan = plan_route("ASIA_NEUR", "CNSGH", "NLRTM")
    bab = plan.legs[plan.chokepoints.index("bab_el_mandeb")]
    suez = plan.legs[plan.chokepoints.index("suez")]

    assert suez.late_delay_days > bab.late_delay_days


def test_no_alternative_waits_for_reopening():
    plan = plan_route("ASIA_GULF", "CNSGH", "AEJEA")
    hormuz = plan.legs[plan.chokepoints.index("hormuz")]

    assert not hormuz.avoidable
    assert hormuz.late_delay_days == CLOSURE_WAIT_DAYS
    assert hormuz.alternative_chokepoints == ()


def test_unknown_lane_follows_stored_route():
    plan = plan_route("CUSTOM", "CNSGH", "NLRTM", ("malacca", "suez"))

    assert plan.chokepoints == ("malacca", "suez")
    assert not any(leg.avoidable for leg in plan.legs)


def test_unknown_port_spaces_evenly():
    plan = plan_route("CUSTOM", "XXNOPE", "NLRTM", ("malacca", "suez"))

    assert [leg.progress for leg in plan.legs] == pytest.approx([1 / 3, 2 / 3], abs=1e-4)


def test_every_lane_port_in_world_port_index():
    known = ports()

    for lane in LANES.values():
        for code in lane.origins + lane.destinations:
            assert code in known, f"{lane.id} names {code}, missing from the World Port Index"


def test_route_legs_reach_times():
    rows = frame(shipment("S1", days=30.0), shipment("S2", origin="SGKEP"))
    plan = plan_route("ASIA_NEUR", "CNSGH", "NLRTM")
    bab = plan.legs[plan.chokepoints.index("bab_el_mandeb")]

    legs = route_legs(rows, only={"bab_el_mandeb"})
    first = legs[legs["id"] == "S1"].iloc[0]

    assert sorted(legs["id"]) == ["S1", "S2"]
    expected = AS_OF + timedelta(days=2) + timedelta(days=30) * bab.progress
    assert abs((first["reaches_at"].to_pydatetime() - expected).total_seconds()) < 1
    diversion = AS_OF + timedelta(days=2) + timedelta(days=30) * bab.diversion_progress
    assert abs((first["diversion_at"].to_pydatetime() - diversion).total_seconds()) < 1


def test_route_legs_all_chokepoints():
    legs = route_legs(frame(shipment("S1")))

    assert list(legs["chokepoint"]) == ["taiwan", "malacca", "bab_el_mandeb", "suez",
                                        "gibraltar", "dover"]


def test_route_legs_empty_book():
    legs = route_legs(frame(shipment("S1")).iloc[0:0])

    assert legs.empty
    assert "reaches_at" in legs.columns


def test_timetable_lists_every_chokepoint():
    etd = AS_OF
    steps = timetable("ASIA_NEUR", "CNSGH", "NLRTM", etd, etd + timedelta(days=32))
    plan = plan_route("ASIA_NEUR", "CNSGH", "NLRTM")

    assert [s["chokepoint"] for s in steps] == list(plan.chokepoints)
    assert steps[2]["reaches_at"] == (etd + timedelta(days=32) * plan.legs[2].progress).isoformat()
    assert [s["avoidable"] for s in steps] == [False, False, True, True, False, False]
