from dataclasses import replace
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from engine.decisions import costs
from engine.decisions.answers import ANSWER_KEYS
from engine.decisions.config import DecisionConfig
from engine.decisions.choose import stick_to_previous
from engine.decisions.generate import draft_decisions
from engine.decisions.routes import plan_route
from tests.decisions_helpers import AS_OF, event, frame, shipment

CONFIG = DecisionConfig()
CIRCUITS = {"polymarket": "closed", "news": "closed", "ais": "closed"}


def _draft(events, *rows, config=CONFIG, previous=None):
    return draft_decisions(events, frame(*rows), AS_OF, CIRCUITS, config, previous)


def test_reroute_when_disruption_likely():
    drafts = _draft({"bab_el_mandeb": event()},
                    shipment("S1", value=3_000_000.0, feu=20))
    plan = plan_route("ASIA_NEUR", "CNSGH", "NLRTM")
    bab = plan.legs[plan.chokepoints.index("bab_el_mandeb")]

    assert len(drafts) == 1
    draft = drafts[0]
    loss = costs.loss_if_disrupted(3_000_000.0, 20.0, bab.late_delay_days, 1_500.0, True, True)
    assert draft.recommended_action == "REROUTE"
    assert draft.expected_loss_usd == pytest.approx(0.9 * float(loss), abs=0.01)
    assert draft.action_cost_usd == pytest.approx(
        float(costs.reroute_cost(3_000_000.0, 20.0, bab.alternative_extra_days)), abs=0.01
    )
    diversion = AS_OF + timedelta(days=2) + timedelta(days=32) * bab.diversion_progress
    assert abs((draft.deadline - diversion).total_seconds()) < 1
    # 0.9 * (26,630 late days + 60,000 premium + 15,000 war risk) is under 100,000
    assert draft.severity == "MEDIUM"
    assert draft.event_key == "bab_el_mandeb:disruption"


def test_every_answer_and_provenance():
    draft = _draft({"bab_el_mandeb": event()}, shipment("S1"))[0]

    assert set(ANSWER_KEYS) <= set(draft.answers)
    when = draft.answers["when"][0]
    assert when["shipment_id"] == "S1"
    assert when["route"] == ["taiwan", "malacca", "bab_el_mandeb", "suez", "gibraltar",
                             "dover"]
    assert when["reaches_at"].startswith("2024-01-")
    actions = [a["action"] for a in draft.answers["what_to_do"]["alternatives"]]
    assert actions == ["REROUTE", "DELAY", "INSURE", "MONITOR", "DO_NOTHING"]
    assert set(draft.answers["confidence"]["cost_of_waiting_usd"]) == {"6h", "24h", "48h"}
    assert draft.answers["confidence"]["reasons"]
    assert draft.provenance["signals"] == [
        {"id": 11, "source": "gdelt", "probability": 0.8,
         "observed_at": AS_OF.isoformat(), "age_hours": 24.0}
    ]
    assert draft.provenance["observations"][0]["id"] == 21
    assert draft.provenance["circuits"] == CIRCUITS
    assert draft.provenance["reconciliation"]["status"] == "CONFIRMED"


def test_delay_only_before_departure():
    sailing = shipment("S1", etd=AS_OF - timedelta(days=1))

    draft = _draft({"bab_el_mandeb": event()}, sailing)[0]
    delay = next(a for a in draft.answers["what_to_do"]["alternatives"]
                 if a["action"] == "DELAY")

    assert not delay["feasible"]
    assert delay["shipments"] == 0
    assert draft.recommended_action != "DELAY"


def test_corridor_counted_once():
    events = {"bab_el_mandeb": event(), "suez": event("suez", probability=0.5)}

    drafts = _draft(events, shipment("S1"))

    assert [d.chokepoint for d in drafts] == ["bab_el_mandeb"]
    assert drafts[0].answers["when"][0]["also_avoids"] == ["suez"]


def test_past_bab_matches_suez():
    plan = plan_route("ASIA_NEUR", "CNSGH", "NLRTM")
    progress = {leg.chokepoint: leg.progress for leg in plan.legs}
    between = (progress["bab_el_mandeb"] + progress["suez"]) / 2
    etd = AS_OF - timedelta(days=32) * between
    events = {"bab_el_mandeb": event(), "suez": event("suez", probability=0.6)}

    drafts = _draft(events, shipment("S1", etd=etd))

    assert [d.chokepoint for d in drafts] == ["suez"]


def test_blocked_alternative_not_feasible():
    events = {"panama": event("panama", category="traffic"), "bab_el_mandeb": event()}
    panama_bound = shipment("S1", lane="ASIA_USEC", destination="USNYC", days=33.0)

    draft = _draft(events, panama_bound)[0]
    reroute = draft.answers["what_to_do"]["alternatives"][0]

    assert draft.chokepoint == "panama"
    assert not reroute["feasible"]
    assert reroute["blocked_by_other_events"] == 1


def test_one_draft_per_customer_and_event():
    drafts = _draft({"bab_el_mandeb": event()}, shipment("S1", customer="C1"),
                    shipment("S2", customer="C1", origin="SGKEP"),
                    shipment("S3", customer="C2"))

    assert [(d.customer_id, d.shipment_count) for d in drafts] == [("C1", 2), ("C2", 1)]
    assert drafts[0].exposure_usd == 2_000_000.0


def test_cost_of_waiting_when_deadline_near():
    plan = plan_route("ASIA_NEUR", "CNSGH", "NLRTM")
    bab = plan.legs[plan.chokepoints.index("bab_el_mandeb")]
    etd = AS_OF + timedelta(hours=3) - timedelta(days=32) * bab.diversion_progress

    draft = _draft({"bab_el_mandeb": event()}, shipment("S1", etd=etd))[0]
    waiting = draft.answers["confidence"]["cost_of_waiting_usd"]

    assert draft.recommended_action == "REROUTE"
    assert waiting["6h"] > 0
    assert waiting["6h"] <= draft.net_benefit_usd
    assert waiting["6h"] == waiting["48h"]


def test_no_cost_of_waiting_far_from_deadline():
    draft = _draft({"bab_el_mandeb": event()}, shipment("S1", etd=AS_OF + timedelta(days=9)))[0]

    assert draft.answers["confidence"]["cost_of_waiting_usd"]["48h"] == 0.0


def test_monitor_without_worthwhile_action():
    calm = event(probability=0.35, premium=0.0, category="traffic",
                 status="PREDICTED_NOT_OBSERVED")

    draft = _draft({"bab_el_mandeb": calm}, shipment("S1", etd=AS_OF - timedelta(days=1)))[0]

    assert draft.recommended_action == "MONITOR"
    assert draft.action_cost_usd == 0.0
    assert draft.answers["by_when_detail"]["kind"] == "review"


def test_do_nothing_when_unlikely_and_small():
    faint = event(probability=0.25, premium=0.0, category="traffic", status="NORMAL")

    draft = _draft({"bab_el_mandeb": faint}, shipment("S1", value=100_000.0, feu=1))[0]

    assert draft.recommended_action == "DO_NOTHING"
    assert draft.answers["by_when_detail"]["kind"] == "review"
    assert draft.severity == "LOW"


def test_unlikely_event_drafts_nothing():
    assert _draft({"bab_el_mandeb": event(probability=0.1)}, shipment("S1")) == []


def test_beyond_horizon_drafts_nothing():
    late = shipment("S1", etd=AS_OF + timedelta(days=40))

    assert _draft({"bab_el_mandeb": event()}, late) == []


def test_severity_follows_configured_thresholds():
    config = replace(CONFIG, severity_thresholds=(10.0, 20.0, 30.0))

    draft = _draft({"bab_el_mandeb": event()}, shipment("S1"), config=config)[0]

    assert draft.severity == "CRITICAL"


def test_fingerprint_ignores_input_ages():
    older = event()
    older.signal_inputs[0]["age_hours"] = 99.0

    first = _draft({"bab_el_mandeb": event()}, shipment("S1"))[0]
    second = _draft({"bab_el_mandeb": older}, shipment("S1"))[0]
    bigger = _draft({"bab_el_mandeb": event()}, shipment("S1", value=2_000_000.0))[0]

    assert first.fingerprint == second.fingerprint
    assert first.fingerprint != bigger.fingerprint


def test_previous_action_kept_within_margin():
    totals = pd.DataFrame({"customer_id": ["C1", "C2", "C3"],
                           "chokepoint": ["bab_el_mandeb"] * 3,
                           "expected_loss": [100_000.0] * 3})
    # gains for REROUTE, DELAY, INSURE
    gains = np.array([[50_000.0, 45_000.0, 0.0],
                      [50_000.0, 30_000.0, 0.0],
                      [5_000.0, 0.0, 0.0]])
    previous = {("C1", "bab_el_mandeb"): "DELAY", ("C2", "bab_el_mandeb"): "DELAY",
                ("C3", "bab_el_mandeb"): "MONITOR"}

    best = stick_to_previous(totals, gains, previous, CONFIG)

    # C1: DELAY within 10% of 100,000 of REROUTE; C2: 20,000 short; C3: 5,000 is no reason
    assert best.tolist() == [1, 0, -1]


def test_arrival_deadline_when_no_option_left():
    plan = plan_route("ASIA_NEUR", "CNSGH", "NLRTM")
    bab = plan.legs[plan.chokepoints.index("bab_el_mandeb")]
    etd = AS_OF + timedelta(hours=12) - timedelta(days=32) * bab.progress
    calm = event(probability=0.35, premium=0.0, category="traffic")

    draft = _draft({"bab_el_mandeb": calm}, shipment("S1", etd=etd))[0]

    # passed the diversion point, sailed, and within a day of the strait
    assert draft.recommended_action == "MONITOR"
    assert draft.answers["by_when_detail"]["kind"] == "arrival"
    assert abs((draft.deadline - (AS_OF + timedelta(hours=12))).total_seconds()) < 1
