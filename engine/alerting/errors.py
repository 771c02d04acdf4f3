"""Delivery errors and how each Twilio response is classified.

A recipient problem (an invalid number, a closed WhatsApp window) is permanent
and says nothing about Twilio's health, so it never counts against the
``twilio`` circuit. A rate limit (HTTP 429) is retried after ``Retry-After``
and counted on its own. An outage (5xx, a timeout, a dropped connection) or a
rejected account is retried with back-off and does count against the circuit.
"""

from __future__ import annotations

import enum


class ErrorKind(enum.Enum):
    RECIPIENT = "recipient"
    REQUEST = "request"
    RATE_LIMITED = "rate_limited"
    OUTAGE = "outage"
    ACCOUNT = "account"


# Twilio error codes that concern one recipient rather than Twilio or our account.
RECIPIENT_CODES = {
    "21211": "the To number is not a valid phone number",
    "21408": "sending to this region is not enabled",
    "21610": "the recipient has opted out (replied STOP)",
    "21612": "the To number cannot be reached from this sender",
    "21614": "the To number is not a mobile number",
    "63003": "the recipient's WhatsApp channel could not be reached",
    "63016": "outside the 24-hour WhatsApp window only approved templates may be sent",
    "63024": "the recipient is not a valid WhatsApp user",
}
WINDOW_CLOSED = "63016"
# Local codes for failures that never reached Twilio.
NO_TEMPLATE = "NO_TEMPLATE"
TIMEOUT = "TIMEOUT"
CONNECTION = "CONNECTION"


class DeliveryError(Exception):
    """Raised when Twilio did not accept a message (or its fate is unknown).

    ``retryable`` tells whether trying again can help. ``maybe_sent`` tells whether
    the message might have been created anyway (a timeout or a 5xx). Such a
    message is looked up at Twilio before any resend.
    """

    def __init__(self, code: str, message: str, kind: ErrorKind,
                 retry_after: float | None = None, maybe_sent: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.kind = kind
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent

    @property
    def retryable(self) -> bool:
        return self.kind in (ErrorKind.RATE_LIMITED, ErrorKind.OUTAGE, ErrorKind.ACCOUNT)

    @property
    def counts_against_circuit(self) -> bool:
        return self.kind in (ErrorKind.OUTAGE, ErrorKind.ACCOUNT)


def classify(status: int, code: str | None, message: str,
             retry_after: float | None = None) -> DeliveryError:
    """Turn an HTTP error response from Twilio into a DeliveryError of the right kind."""
    code = code or str(status)
    if status == 429 or code == "20429":
        return DeliveryError(code, message, ErrorKind.RATE_LIMITED, retry_after=retry_after)
    if status >= 500:
        # Twilio may have created the message before the request failed.
        return DeliveryError(code, message, ErrorKind.OUTAGE, maybe_sent=True)
    if status in (401, 403) or code in ("20003", "20005"):
        return DeliveryError(code, message, ErrorKind.ACCOUNT)
    if code in RECIPIENT_CODES:
        return DeliveryError(code, message, ErrorKind.RECIPIENT)
    return DeliveryError(code, message, ErrorKind.REQUEST)


def describe_code(code: str | None) -> str | None:
    """Return a short explanation of a Twilio error code, when one is known."""
    if code is None:
        return None
    return RECIPIENT_CODES.get(code)
