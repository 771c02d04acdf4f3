"""Alert statuses and how Twilio's message statuses map onto them."""

from __future__ import annotations

# Waiting to be sent (PENDING), held back by the daily cap (HELD) or being sent.
QUEUED = ("PENDING", "HELD", "SENDING")
# The recipient has the message.
REACHED = ("SENT", "DELIVERED", "READ")
# No further sending happens unless an operator retries.
FINAL = ("FAILED", "DEAD", "CANCELLED", "SUPERSEDED", "DIGESTED")

# Twilio message statuses (Messages API and status callbacks) to alert statuses.
FROM_TWILIO = {
    "accepted": "SENT",
    "scheduled": "SENT",
    "queued": "SENT",
    "sending": "SENT",
    "sent": "SENT",
    "delivered": "DELIVERED",
    "read": "READ",
    "failed": "FAILED",
    "undelivered": "FAILED",
    "canceled": "FAILED",
}
# Order of the delivery statuses; a callback never moves an alert backwards.
RANK = {"PENDING": 0, "SENDING": 0, "SENT": 1, "DELIVERED": 2, "READ": 3}


def from_twilio(twilio_status: str | None) -> str | None:
    return FROM_TWILIO.get((twilio_status or "").lower())
