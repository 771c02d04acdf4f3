"""A local HTTP server that speaks the part of Twilio's Messages API RISKCAST uses.

It accepts ``POST /2010-04-01/Accounts/{sid}/Messages.json`` (form-encoded,
basic auth) and responds with Twilio's JSON, lists and fetches the messages it
accepted, and signs status callbacks and inbound messages with the auth token
as Twilio does. Tests inject faults: HTTP errors with Twilio codes (429 with
Retry-After, 5xx, 21211, 63016), slow responses, and SIGKILL of the sending
process right after a message was accepted.

Run it by hand with ``python -m tests.twilio_fake --port 8300``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from twilio.request_validator import RequestValidator

API = "/2010-04-01/Accounts"
_LIST = re.compile(rf"^{API}/(AC\w+)/Messages\.json$")
_ONE = re.compile(rf"^{API}/(AC\w+)/Messages/(SM\w+)\.json$")
_WHATSAPP = re.compile(r"^whatsapp:\+[1-9]\d{6,14}$")


@dataclass
class Fault:
    """One injected response for ``times`` matching requests, after letting ``after`` pass."""

    times: int
    after: int = 0
    to: str | None = None
    status: int | None = None
    code: int | None = None
    message: str = "injected failure"
    retry_after: str | None = None
    delay: float = 0.0
    accept_first: bool = True
    kill_pid: int | None = None

    def matches(self, to: str) -> bool:
        return self.times > 0 and (self.to is None or self.to == to)


@dataclass
class Message:
    sid: str
    to: str
    from_: str
    body: str
    content_sid: str | None
    content_variables: dict | None
    status_callback: str | None
    date_created: datetime
    status: str = "queued"
    error_code: int | None = None
    sequence: int = 0
    extra: dict = field(default_factory=dict)

    def as_json(self, account_sid: str) -> dict:
        return {
            "sid": self.sid,
            "account_sid": account_sid,
            "to": self.to,
            "from": self.from_,
            "body": self.body,
            "status": self.status,
            "direction": "outbound-api",
            "num_segments": "1",
            "num_media": "0",
            "error_code": self.error_code,
            "error_message": None,
            "date_created": format_datetime(self.date_created, usegmt=True),
            "date_updated": format_datetime(self.date_created, usegmt=True),
            "date_sent": None,
            "messaging_service_sid": None,
            "price": None,
            "price_unit": "USD",
            "api_version": "2010-04-01",
            "uri": f"{API}/{account_sid}/Messages/{self.sid}.json",
            "subresource_uris": {},
        }


class FakeTwilio:
    def __init__(self, account_sid: str | None = None, auth_token: str | None = None,
                 templates: dict[str, str] | None = None, enforce_windows: bool = False,
                 port: int = 0) -> None:
        self.account_sid = account_sid or "AC" + uuid.uuid4().hex
        self.auth_token = auth_token or uuid.uuid4().hex
        self.templates = dict(templates or {})
        self.enforce_windows = enforce_windows
        self.open_windows: set[str] = set()
        self.invalid_numbers: set[str] = set()
        self.faults: list[Fault] = []
        self.requests: list[dict] = []
        # Most create requests the server was handling at the same time.
        self.max_in_flight = 0
        self._in_flight = 0
        self._messages: list[Message] = []
        self._lock = threading.Lock()
        self._sequence = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeTwilio:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="twilio-fake")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """Settings that point RISKCAST's Twilio channel at this server."""
        return {"TWILIO_ACCOUNT_SID": self.account_sid, "TWILIO_AUTH_TOKEN": self.auth_token,
                "TWILIO_API_BASE": self.base_url}

    # -- fault injection -----------------------------------------------------------

    def fail(self, status: int, code: int, message: str = "injected failure", times: int = 1,
             to: str | None = None, retry_after: str | None = None, after: int = 0) -> None:
        self._add(Fault(times, after, to, status, code, message, retry_after))

    def rate_limit(self, times: int = 1, retry_after: str = "2", to: str | None = None,
                   after: int = 0) -> None:
        self.fail(429, 20429, "Too Many Requests", times, to, retry_after, after)

    def server_error(self, times: int = 1, status: int = 500, to: str | None = None,
                     after: int = 0) -> None:
        self.fail(status, 20500, "Internal Server Error", times, to, after=after)

    def slow(self, seconds: float, times: int = 1, accept_first: bool = True,
             to: str | None = None, after: int = 0) -> None:
        """Respond ``seconds`` late. With ``accept_first`` the message is stored at once."""
        self._add(Fault(times, after, to, delay=seconds, accept_first=accept_first))

    def kill_after_accept(self, pid: int, after: int = 0, to: str | None = None) -> None:
        """Store a message (after letting ``after`` pass), then SIGKILL ``pid`` unanswered."""
        self._add(Fault(1, after, to, kill_pid=pid))

    def _add(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    # -- inspection ----------------------------------------------------------------

    @property
    def messages(self) -> list[Message]:
        with self._lock:
            return list(self._messages)

    def with_reference(self, reference: str) -> list[Message]:
        pattern = re.compile(rf"\bRef {re.escape(reference)}\b")
        return [m for m in self.messages if pattern.search(m.body)]

    def set_status(self, sid: str, status: str, error_code: int | None = None) -> None:
        with self._lock:
            for message in self._messages:
                if message.sid == sid:
                    message.status = status
                    message.error_code = error_code

    # -- webhooks ------------------------------------------------------------------

    def sign(self, url: str, params: dict[str, str], token: str | None = None) -> str:
        return RequestValidator(token or self.auth_token).compute_signature(url, params)

    def post_signed(self, url: str, params: dict[str, str], signature: str | None = None,
                    token: str | None = None) -> httpx.Response:
        """POST ``params`` to ``url`` as Twilio does; ``signature`` overrides the real one."""
        headers = {"X-Twilio-Signature": signature if signature is not None
                   else self.sign(url, params, token)}
        if signature == "":
            headers = {}
        return httpx.post(url, data=params, headers=headers, timeout=10.0)

    def status_callback(self, sid: str, status: str, error_code: int | None = None,
                        url: str | None = None, **kwargs) -> httpx.Response:
        message = next(m for m in self.messages if m.sid == sid)
        self.set_status(sid, status, error_code)
        params = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status,
                  "SmsStatus": status, "AccountSid": self.account_sid, "To": message.to,
                  "From": message.from_, "ApiVersion": "2010-04-01"}
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return self.post_signed(url or message.status_callback, params, **kwargs)

    def inbound(self, url: str, sender: str, body: str, to: str = "whatsapp:+14155238886",
                replied_to: str | None = None, sid: str | None = None,
                **kwargs) -> httpx.Response:
        params = {"MessageSid": sid or "SM" + uuid.uuid4().hex, "AccountSid": self.account_sid,
                  "From": f"whatsapp:{sender}", "To": to, "Body": body, "NumMedia": "0",
                  "ProfileName": "Ops desk", "WaId": sender.lstrip("+")}
        if replied_to:
            params["OriginalRepliedMessageSid"] = replied_to
        return self.post_signed(url, params, **kwargs)

    # -- request handling (called from the server threads) ---------------------------

    def handle_create(self, form: dict[str, str]) -> tuple[int, dict, dict]:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            return self._create(form)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _create(self, form: dict[str, str]) -> tuple[int, dict, dict]:
        to = form.get("To", "")
        with self._lock:
            self.requests.append(dict(form))
            fault = None
            for candidate in self.faults:
                if not candidate.matches(to):
                    continue
                if candidate.after > 0:
                    candidate.after -= 1
                    continue
                candidate.times -= 1
                fault = candidate
                break
        if fault is not None and fault.status is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return fault.status, _error(fault.status, fault.code, fault.message), headers
        if fault is not None and fault.delay and not fault.accept_first:
            time.sleep(fault.delay)

        problem = self._validate(form)
        if problem is not None:
            return 400, problem, {}
        message = self._store(form)
        if fault is not None and fault.kill_pid is not None:
            os.kill(fault.kill_pid, signal.SIGKILL)
        if fault is not None and fault.delay and fault.accept_first:
            time.sleep(fault.delay)
        return 201, message.as_json(self.account_sid), {}

    def _validate(self, form: dict[str, str]) -> dict | None:
        to = form.get("To", "")
        if not _WHATSAPP.match(to) or to.split(":", 1)[1] in self.invalid_numbers:
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not form.get("From"):
            return _error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body") and not form.get("ContentSid"):
            return _error(400, 21602, "Message body is required.")
        number = to.split(":", 1)[1]
        if self.enforce_windows and not form.get("ContentSid") and number not in self.open_windows:
            return _error(400, 63016, "Failed to send freeform message because you are "
                          "outside the allowed window. Please use a Template.")
        return None

    def _store(self, form: dict[str, str]) -> Message:
        variables = json.loads(form["ContentVariables"]) if form.get("ContentVariables") else None
        body = form.get("Body") or self._render(form.get("ContentSid"), variables or {})
        with self._lock:
            self._sequence += 1
            message = Message(
                sid="SM" + uuid.uuid4().hex, to=form["To"], from_=form["From"], body=body,
                content_sid=form.get("ContentSid"), content_variables=variables,
                status_callback=form.get("StatusCallback"),
                date_created=datetime.now(timezone.utc), sequence=self._sequence,
            )
            self._messages.append(message)
        return message

    def _render(self, content_sid: str | None, variables: dict) -> str:
        text = self.templates.get(content_sid or "", " | ".join(
            f"{{{{{key}}}}}" for key in sorted(variables, key=int)))
        for key, value in variables.items():
            text = text.replace("{{" + key + "}}", str(value))
        return text

    def handle_list(self, query: dict[str, str]) -> dict:
        size = int(query.get("PageSize", 50))
        page = int(query.get("Page", 0))
        with self._lock:
            chosen = [m for m in self._messages
                      if (not query.get("To") or m.to == query["To"])
                      and (not query.get("From") or m.from_ == query["From"])]
        chosen.sort(key=lambda m: m.sequence, reverse=True)
        window = chosen[page * size:(page + 1) * size]
        base = f"{API}/{self.account_sid}/Messages.json"
        keep = {k: v for k, v in query.items() if k not in ("Page", "PageToken")}
        following = None
        if (page + 1) * size < len(chosen):
            following = f"{base}?{urlencode({**keep, 'Page': page + 1, 'PageToken': 'x'})}"
        return {
            "messages": [m.as_json(self.account_sid) for m in window],
            "first_page_uri": f"{base}?{urlencode({**keep, 'Page': 0})}",
            "next_page_uri": following,
            "previous_page_uri": None,
            "page": page,
            "page_size": size,
            "start": page * size,
            "end": page * size + len(window) - 1,
            "uri": f"{base}?{urlencode(query)}",
        }

    def handle_fetch(self, sid: str) -> dict | None:
        message = next((m for m in self.messages if m.sid == sid), None)
        return None if message is None else message.as_json(self.account_sid)

    def authorised(self, header: str | None) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return header == f"Basic {expected}"


def _error(status: int, code: int | None, message: str) -> dict:
    return {"code": code, "message": message, "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code}"}


def _handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes. Without this, Nagle's algorithm and
        # Linux's delayed ACKs (up to 40 ms) delay every response.
        disable_nagle_algorithm = True

        def log_message(self, format, *args) -> None:  # noqa: A002 - base class name
            pass

        def _reply(self, status: int, payload: dict, headers: dict | None = None) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout) or was killed

        def _authorised(self) -> bool:
            if fake.authorised(self.headers.get("Authorization")):
                return True
            self._reply(401, _error(401, 20003, "Authenticate"))
            return False

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            match = _LIST.match(urlsplit(self.path).path)
            if match is None:
                self._reply(404, _error(404, 20404, "The requested resource was not found"))
                return
            if not self._authorised():
                return
            form = {key: values[-1] for key, values in parse_qs(raw).items()}
            status, payload, headers = fake.handle_create(form)
            self._reply(status, payload, headers)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            parts = urlsplit(self.path)
            if not self._authorised():
                return
            if _LIST.match(parts.path):
                query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
                self._reply(200, fake.handle_list(query))
                return
            one = _ONE.match(parts.path)
            found = fake.handle_fetch(one.group(2)) if one else None
            if found is None:
                self._reply(404, _error(404, 20404, "The requested resource was not found"))
                return
            self._reply(200, found)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Twilio Messages API.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 picks one)")
    args = parser.parse_args()
    fake = FakeTwilio(port=args.port).start()
    print(json.dumps(fake.env()), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
