"""WhatsApp channels: Twilio through its official SDK, or a simulation.

With no Twilio credentials the simulated channel renders and records each
message exactly as it would go out, so the whole flow runs on a laptop.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from engine.settings import Settings

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """Raised when a message was not accepted; ``retryable`` says whether to try again."""

    def __init__(self, code: str, message: str, retryable: bool, retry_after: float | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass
class SendResult:
    sid: str
    status: str
    simulated: bool


class SimulatedChannel:
    simulated = True

    def send(self, alert) -> SendResult:
        digest = hashlib.sha256(alert.idempotency_key.encode()).hexdigest()[:32]
        log.info("simulated WhatsApp to %s for alert %s", alert.recipient, alert.id)
        return SendResult(sid=f"SM{digest}", status="sent", simulated=True)


class TwilioChannel:
    simulated = False

    def __init__(self, settings: Settings) -> None:
        from twilio.rest import Client

        self._client = Client(
            settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN.get_secret_value()
        )
        if settings.TWILIO_API_BASE:
            self._client.api.base_url = settings.TWILIO_API_BASE.rstrip("/")
        self._from = settings.TWILIO_WHATSAPP_FROM
        self._callback = settings.TWILIO_STATUS_CALLBACK_URL

    def send(self, alert) -> SendResult:
        from twilio.base.exceptions import TwilioRestException

        params = {"to": f"whatsapp:{alert.recipient}", "from_": self._from}
        if alert.content_sid:
            params["content_sid"] = alert.content_sid
            params["content_variables"] = alert.content_variables
        else:
            params["body"] = alert.body
        if self._callback:
            params["status_callback"] = self._callback
        try:
            message = self._client.messages.create(**params)
        except TwilioRestException as exc:
            retryable = exc.status == 429 or exc.status >= 500
            raise DeliveryError(str(exc.code or exc.status), exc.msg or str(exc), retryable) from exc
        return SendResult(sid=message.sid, status=message.status or "queued", simulated=False)


def build_channel(settings: Settings):
    if settings.twilio_configured:
        return TwilioChannel(settings)
    return SimulatedChannel()
