"""WhatsApp channels: Twilio through its official SDK, or a simulation.

With no Twilio credentials the simulated channel accepts every message, and
the dispatcher records it exactly as it records a real one (marked simulated),
so the whole flow runs on a laptop.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

from engine.alerting.backoff import parse_retry_after
from engine.alerting.errors import CONNECTION, TIMEOUT, DeliveryError, ErrorKind, classify
from engine.settings import Settings

log = logging.getLogger(__name__)

# Messages scanned per recipient when looking for one sent before a crash.
FIND_LIMIT = 200
# Clock difference between our hosts and Twilio tolerated by that lookup.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class OutboundMessage:
    alert_id: int
    recipient: str
    reference: str
    idempotency_key: str
    body: str | None = None
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None


@dataclass(frozen=True)
class SendResult:
    sid: str
    status: str
    simulated: bool
    error_code: str | None = None
    error_message: str | None = None


class SimulatedChannel:
    """Accepts every message without sending it; the SID is derived from the key."""

    simulated = True

    def send(self, message: OutboundMessage) -> SendResult:
        seed = f"{message.idempotency_key}|{message.content_sid or 'text'}"
        digest = hashlib.sha256(seed.encode()).hexdigest()[:32]
        log.info("simulated WhatsApp to %s for alert %s (ref %s)", message.recipient,
                 message.alert_id, message.reference)
        return SendResult(sid=f"SM{digest}", status="sent", simulated=True)

    def find_sent(self, recipient: str, reference: str, since: datetime) -> SendResult | None:
        # Nothing left this process, so resending the simulation is harmless.
        return None


class _HeaderKeepingHttpClient(TwilioHttpClient):
    """Keeps the last response, whose headers the SDK's errors drop (Retry-After)."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.last_response: Response | None = None

    def request(self, *args, **kwargs) -> Response:
        self.last_response = None
        self.last_response = super().request(*args, **kwargs)
        return self.last_response

    def last_header(self, name: str) -> str | None:
        response = self.last_response
        if response is None or not response.headers:
            return None
        return response.headers.get(name)


class TwilioChannel:
    """Twilio's Messages API through the official SDK, one client per sending thread."""

    simulated = False

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._local = threading.local()
        self._from = settings.TWILIO_WHATSAPP_FROM
        self._callback = settings.status_callback_url

    def _thread_client(self):
        """This thread's SDK client: requests sessions are not safe to share."""
        client = getattr(self._local, "client", None)
        if client is None:
            from twilio.rest import Client

            settings = self._settings
            self._local.http = _HeaderKeepingHttpClient(timeout=settings.TWILIO_TIMEOUT_SECONDS)
            client = Client(settings.TWILIO_ACCOUNT_SID,
                            settings.TWILIO_AUTH_TOKEN.get_secret_value(),
                            http_client=self._local.http)
            if settings.TWILIO_API_BASE:
                client.api.base_url = settings.TWILIO_API_BASE
            self._local.client = client
        return client

    def send(self, message: OutboundMessage) -> SendResult:
        params = {"to": f"whatsapp:{message.recipient}", "from_": self._from}
        if message.content_sid:
            params["content_sid"] = message.content_sid
            params["content_variables"] = json.dumps(message.content_variables or {})
        else:
            params["body"] = message.body
        if self._callback:
            params["status_callback"] = self._callback
        try:
            created = self._thread_client().messages.create(**params)
        except (TwilioException, requests.RequestException) as exc:
            raise self._translate(exc, "send") from exc
        return SendResult(sid=created.sid, status=created.status or "queued", simulated=False,
                          error_code=_text(created.error_code),
                          error_message=created.error_message)

    def find_sent(self, recipient: str, reference: str, since: datetime) -> SendResult | None:
        """Find a message for ``reference`` that Twilio accepted at or after ``since``.

        Twilio lists messages newest first, so the scan stops at the first one
        created before ``since``. A message that failed is still returned: it
        was accepted, and its failure is recorded rather than resent blindly.
        """
        pattern = re.compile(rf"\bRef {re.escape(reference)}\b")
        oldest = since - CLOCK_SKEW
        found = []
        try:
            for item in self._thread_client().messages.stream(
                to=f"whatsapp:{recipient}", from_=self._from, limit=FIND_LIMIT, page_size=50
            ):
                if item.date_created is not None and item.date_created < oldest:
                    break
                if pattern.search(item.body or ""):
                    found.append(item)
        except (TwilioException, requests.RequestException) as exc:
            raise self._translate(exc, "lookup") from exc
        if not found:
            return None
        good = [m for m in found if m.status not in ("failed", "undelivered")]
        chosen = (good or found)[0]
        return SendResult(sid=chosen.sid, status=chosen.status or "queued", simulated=False,
                          error_code=_text(chosen.error_code),
                          error_message=chosen.error_message)

    def _translate(self, exc: Exception, action: str) -> DeliveryError:
        if isinstance(exc, (TwilioRestException, TwilioServiceException)):
            header = self._local.http.last_header("Retry-After")
            retry_after = parse_retry_after(header, time.time())
            if isinstance(exc, TwilioRestException):
                return classify(exc.status, _text(exc.code), exc.msg or str(exc), retry_after)
            return classify(exc.status, _text(exc.code), exc.detail or exc.title, retry_after)
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return DeliveryError(CONNECTION, f"Twilio {action}: connection timed out",
                                 ErrorKind.OUTAGE, maybe_sent=False)
        if isinstance(exc, requests.exceptions.Timeout):
            return DeliveryError(TIMEOUT, f"Twilio {action} timed out (TWILIO_TIMEOUT_SECONDS)",
                                 ErrorKind.OUTAGE, maybe_sent=True)
        if isinstance(exc, requests.exceptions.ConnectionError):
            never_sent = "NewConnectionError" in repr(exc.args)
            return DeliveryError(CONNECTION, f"Twilio {action}: {exc}", ErrorKind.OUTAGE,
                                 maybe_sent=not never_sent)
        return DeliveryError(CONNECTION, f"Twilio {action}: {exc}", ErrorKind.OUTAGE,
                             maybe_sent=True)


def _text(code) -> str | None:
    return None if code is None else str(code)


def build_channel(settings: Settings):
    """Twilio when credentials are set, the simulation otherwise."""
    if settings.twilio_configured:
        return TwilioChannel(settings)
    return SimulatedChannel()
