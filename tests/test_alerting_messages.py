"""Message rendering: urgency layouts, numbers and times for people, length limits."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from engine.alerting import formatting as fmt
from engine.alerting import messages, replies, replies_text, templates

AS_OF = datetime(2023, 12, 18, 6, 0, tzinfo=timezone.utc)


def _decision(severity: str = "HIGH", action: str = "REROUTE", deadline_hours: float = 100,
              **overrides) -> SimpleNamespace:
    values = dict(
        id=7, version=2, event_key="bab_el_mandeb:security", chokepoint="bab_el_mandeb",
        status="OPEN", severity=severity, recommended_action=action,
        exposure_usd=4_230_000.0, expected_loss_usd=352_400.0, action_cost_usd=41_300.0,
        net_benefit_usd=309_800.0, probability=0.62, confidence=0.82, shipment_count=14,
        deadline=AS_OF + timedelta(hours=deadline_hours), as_of=AS_OF,
        answers={"what": {"chokepoint_name": "Bab el-Mandeb", "reconciliation": "CONFIRMED"},
                 "confidence": {"reasons": ["signals and measured transits agree"],
                                "cost_of_waiting_usd": {"6h": 0.0, "24h": 120_000.0}},
                 "when": [{"shipment_id": f"S{i}", "reaches_at": AS_OF.isoformat()}
                          for i in range(40)]},
    )
    values.update(overrides)
    return SimpleNamespace(**values)


def _customer(tz: str = "Asia/Dubai") -> SimpleNamespace:
    return SimpleNamespace(timezone=tz)


@pytest.mark.parametrize(
    ("severity", "action", "hours", "urgency"),
    [
        ("CRITICAL", "REROUTE", 200, "urgent"),
        ("HIGH", "REROUTE", 48, "urgent"),
        ("HIGH", "REROUTE", 100, "standard"),
        ("MEDIUM", "INSURE", 30, "standard"),
        ("LOW", "REROUTE", 30, "watch"),
        ("HIGH", "MONITOR", 30, "watch"),
    ],
)
def test_urgency_from_severity_and_deadline(severity, action, hours, urgency):
    assert messages.urgency_for(_decision(severity, action, hours)) == urgency


def test_urgent_leads_with_action_and_deadline():
    rendered = messages.render_decision(_decision("CRITICAL"), _customer(), "RCABCDEFGH")
    lines = rendered.body.splitlines()

    assert lines[0] == "RISKCAST URGENT: Bab el-Mandeb (CRITICAL)"
    assert lines[1] == "Act now: reroute - costs $41k, saves an expected $310k."
    assert lines[2] == "Decide by Fri 22 Dec 14:00 UTC+4."
    assert lines[3].startswith("14 shipments, $4.2M of cargo exposed; expected loss $352k")
    assert lines[4] == "Waiting 24 hours loses an expected $120k of that saving."
    assert lines[5] == "Probability 62%, confidence high (82%)."
    assert lines[-1] == "Ref RCABCDEFGH"


def test_standard_and_watch_layouts():
    standard = messages.render_decision(_decision("MEDIUM", "INSURE"), _customer("UTC"), "RC1")
    watch = messages.render_decision(_decision("LOW", "MONITOR", confidence=0.45),
                                     _customer("Europe/London"), "RC2")

    assert standard.body.splitlines()[0] == "RISKCAST action advised: Bab el-Mandeb (MEDIUM)"
    assert "Recommended: insure the cargo - costs $41k" in standard.body
    assert "Decide by Fri 22 Dec 10:00 UTC." in standard.body
    assert watch.body.splitlines()[0] == "RISKCAST watch: Bab el-Mandeb (LOW)"
    assert "Recommended: monitor; no action needed yet." in watch.body
    assert "Next review by Fri 22 Dec 10:00 GMT." in watch.body
    assert "confidence low (45%)" in watch.body


def test_no_deadline_said_plainly():
    rendered = messages.render_decision(_decision("MEDIUM", deadline=None), _customer(), "RC1")

    assert "No fixed deadline." in rendered.body
    assert "Decide by" not in rendered.body
    assert rendered.variables["4"] == "no fixed deadline"


def test_template_variables_single_line():
    rendered = messages.render_decision(_decision("CRITICAL"), _customer("Asia/Tehran"),
                                        "RCABCDEFGH")
    text = templates.fill(templates.DECISION_TEMPLATE, rendered.variables)

    assert set(rendered.variables) == {"1", "2", "3", "4", "5", "6"}
    assert all("\n" not in v and "    " not in v for v in rendered.variables.values())
    assert rendered.variables["4"] == "Fri 22 Dec 13:30 UTC+3:30"
    assert text.endswith("Ref RCABCDEFGH")
    assert len(text) <= 1024


def test_body_fits_whatsapp_limit():
    long_name = "A" * 3000
    decision = _decision(answers={"what": {"chokepoint_name": long_name}})

    rendered = messages.render_decision(decision, _customer(), "RCABCDEFGH")

    assert len(rendered.body) <= fmt.MAX_BODY
    assert rendered.body.endswith("Ref RCABCDEFGH")
    assert len(rendered.variables["2"]) <= fmt.MAX_VARIABLE


def test_details_lists_seven_answers():
    text = replies_text.details(_decision(), _customer())

    for part in ("What:", "How bad:", "Why:", "Do:", "By:", "Confidence:", "When:"):
        assert part in text
    assert "- and 35 more" in text
    assert len(text) <= fmt.MAX_BODY


@pytest.mark.parametrize(
    ("amount", "text"),
    [(950, "$950"), (4_250, "$4.2k"), (41_300, "$41k"), (4_230_000, "$4.2M"),
     (2_100_000_000, "$2.1B"), (None, "$0")],
)
def test_money_for_people(amount, text):
    assert fmt.money(amount) == text


@pytest.mark.parametrize(
    ("body", "command", "reference"),
    [("1", "ACKNOWLEDGE", None), (" 2 ", "DETAILS", None), ("3.", "DISMISS", None),
     ("2 rcabcd2345", "DETAILS", "RCABCD2345"), ("12", "HELP", None), ("", "HELP", None),
     ("yes please", "HELP", None)],
)
def test_reply_parsing(body, command, reference):
    assert replies.parse(body) == (command, reference)
