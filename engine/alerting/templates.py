"""Approved WhatsApp templates: which Content SID carries which kind of alert.

Outside a recipient's 24-hour window WhatsApp only accepts templates that Meta
approved in advance. RISKCAST needs two, registered in Twilio's Content API
with exactly these bodies; their SIDs go into the settings named below.
"""

from __future__ import annotations

from engine.settings import Settings

DECISION_TEMPLATE = (
    "RISKCAST {{1}}: {{2}}. Recommended: {{3}}. Decide by {{4}}. Confidence {{5}}. "
    "Reply 1 to acknowledge, 2 for details, 3 to dismiss. Ref {{6}}"
)
NOTICE_TEMPLATE = "RISKCAST update: {{1}} Ref {{2}}"

# Stands in for an unset template SID when messages are only simulated, so the
# laptop set-up shows which messages would have needed a template.
SIMULATED_CONTENT_SID = "HX" + "0" * 32

NOTICE_KINDS = ("EXPIRED", "RESOLVED", "DIGEST")


def setting_for(kind: str) -> str | None:
    """Return the name of the setting with the template for ``kind``, or None for replies."""
    if kind == "DECISION":
        return "TWILIO_TEMPLATE_DECISION_SID"
    if kind in NOTICE_KINDS:
        return "TWILIO_TEMPLATE_NOTICE_SID"
    return None


def content_sid_for(kind: str, settings: Settings) -> str | None:
    """Return the Content SID for ``kind`` outside the window, or None if none is set."""
    name = setting_for(kind)
    if name is None:
        return None
    sid = getattr(settings, name)
    if sid is None and not settings.twilio_configured:
        return SIMULATED_CONTENT_SID
    return sid


def fill(template: str, variables: dict[str, str]) -> str:
    """Fill ``variables`` into ``template`` as WhatsApp shows it."""
    text = template
    for key, value in variables.items():
        text = text.replace("{{" + key + "}}", value)
    return text
