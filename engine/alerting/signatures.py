"""Verify that a webhook request really comes from Twilio (``X-Twilio-Signature``).

Twilio signs the full URL it called plus the sorted form fields with the
account's auth token. Behind a proxy the URL this process receives differs from
the one Twilio called, so ``PUBLIC_BASE_URL`` gives the public one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from twilio.request_validator import RequestValidator, get_signature_algorithm

from engine.settings import Settings

log = logging.getLogger(__name__)


def public_url(settings: Settings, seen_url: str, path: str, query: str) -> str:
    """Return the URL Twilio called: ``PUBLIC_BASE_URL`` plus path and query, else ``seen_url``."""
    if not settings.PUBLIC_BASE_URL:
        return seen_url
    return settings.PUBLIC_BASE_URL + path + (f"?{query}" if query else "")


def verify(settings: Settings, url: str, form: Mapping, signature: str | None,
           signature_settings: str | None = None) -> bool:
    """Check ``signature`` against ``url`` and ``form``, signed with the auth token."""
    if not signature or settings.TWILIO_AUTH_TOKEN is None:
        return False
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN.get_secret_value())
    algorithm = get_signature_algorithm(signature_settings)
    return validator.validate(url, form, signature, algorithm=algorithm)
