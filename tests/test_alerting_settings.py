"""Alerting settings: accepted values and the messages for rejected ones."""

from __future__ import annotations

import pytest

from engine.settings import SettingsError, load_settings


def test_alerting_defaults():
    settings = load_settings({})

    assert settings.ALERT_CLAIM_SECONDS > settings.TWILIO_TIMEOUT_SECONDS
    assert settings.ALERT_SEND_CONCURRENCY == 8
    assert settings.TWILIO_TEMPLATE_DECISION_SID is None
    assert settings.status_callback_url is None


def test_callback_url_from_public_base():
    settings = load_settings({"PUBLIC_BASE_URL": "https://ops.example.com/"})

    assert settings.PUBLIC_BASE_URL == "https://ops.example.com"
    assert settings.status_callback_url == "https://ops.example.com/webhooks/twilio/status"


def test_explicit_callback_url_wins():
    settings = load_settings({"PUBLIC_BASE_URL": "https://ops.example.com",
                              "TWILIO_STATUS_CALLBACK_URL": "https://hooks.example.com/s"})

    assert settings.status_callback_url == "https://hooks.example.com/s"


@pytest.mark.parametrize(
    ("values", "name", "expected"),
    [
        ({"TWILIO_TEMPLATE_DECISION_SID": "HX12"}, "TWILIO_TEMPLATE_DECISION_SID",
         "HX followed by 32 hexadecimal digits"),
        ({"TWILIO_TEMPLATE_NOTICE_SID": "template-1"}, "TWILIO_TEMPLATE_NOTICE_SID",
         "Content SID"),
        ({"PUBLIC_BASE_URL": "ops.example.com"}, "PUBLIC_BASE_URL", "http:// or https://"),
        ({"TWILIO_TIMEOUT_SECONDS": "0"}, "TWILIO_TIMEOUT_SECONDS", "greater than 0"),
        ({"ALERT_SEND_CONCURRENCY": "0"}, "ALERT_SEND_CONCURRENCY", "greater than or equal"),
        ({"ALERT_CLAIM_SECONDS": "10", "TWILIO_TIMEOUT_SECONDS": "10"}, "ALERT_CLAIM_SECONDS",
         "greater than TWILIO_TIMEOUT_SECONDS"),
        ({"ALERT_CRITICAL_BYPASSES_CAP": "maybe"}, "ALERT_CRITICAL_BYPASSES_CAP", "boolean"),
    ],
)
def test_invalid_alerting_value_named(values, name, expected):
    with pytest.raises(SettingsError) as error:
        load_settings(values)

    assert name in str(error.value)
    assert expected in str(error.value)
