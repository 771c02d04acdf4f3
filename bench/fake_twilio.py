"""A local Twilio-compatible Messages endpoint that counts what it receives.

It accepts ``POST /2010-04-01/Accounts/{sid}/Messages.json`` with a form body,
as the Twilio SDK sends it, and responds 201 with ``{"sid", "status"}``. Each
message is keyed by its ``I-Twilio-Idempotency-Token`` header when present,
else by recipient and body; a key seen twice is a duplicate delivery.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import time
from collections import Counter
from urllib.parse import parse_qs

from bench.httpserver import serve

_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")


class FakeTwilio:
    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.rejected = 0
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self.first_at = self.last_at = None
            self.rejected = 0

    @property
    def messages(self) -> int:
        return sum(self.received.values())

    @property
    def duplicates(self) -> int:
        """Messages beyond the first for each key."""
        return sum(count - 1 for count in self.received.values() if count > 1)

    async def handle(self, method: str, path: str, headers: dict[str, str],
                     body: bytes) -> tuple[int, bytes]:
        match = _MESSAGES_PATH.match(path.split("?", 1)[0])
        if method != "POST" or match is None:
            return 404, b'{"code": 20404, "message": "not found"}'
        form = parse_qs(body.decode())
        to = (form.get("To") or [""])[0]
        text = (form.get("Body") or form.get("ContentSid") or [""])[0]
        if not to:
            with self._lock:
                self.rejected += 1
            return 400, b'{"code": 21604, "message": "A To phone number is required."}'
        key = headers.get("i-twilio-idempotency-token") or f"{to}|{text}"
        now = time.perf_counter()
        with self._lock:
            self.received[key] += 1
            self.first_at = self.first_at or now
            self.last_at = now
        sid = "SM" + hashlib.sha256(f"{key}|{self.received[key]}".encode()).hexdigest()[:32]
        return 201, json.dumps({"sid": sid, "status": "queued", "to": to,
                                "account_sid": match.group(1)}).encode()

    def start(self, port: int) -> None:
        """Serve on 127.0.0.1:``port`` from a daemon thread and return once it listens."""
        started = threading.Event()

        def run() -> None:
            async def main() -> None:
                ready = asyncio.Event()
                task = asyncio.create_task(serve(self.handle, "127.0.0.1", port, ready))
                await ready.wait()
                started.set()
                await task

            asyncio.run(main())

        threading.Thread(target=run, name="fake-twilio", daemon=True).start()
        if not started.wait(10):
            raise RuntimeError(f"fake Twilio server did not start on port {port} within 10s")
