"""Local stand-ins for the outside sources: HTTP and WebSocket servers on loopback.

Each server binds port 0 on 127.0.0.1, serves recorded payloads and injects
faults (error statuses, slow answers, connections that are accepted and never
answered). Tests stop them on teardown.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.sync.server import serve

from engine import breakers, http
from engine.settings import reset_settings_cache


@dataclass
class Route:
    body: bytes | Callable[[dict], bytes] = b""
    status: int = 200
    content_type: str = "application/json"
    hang: bool = False  # accept the request, never answer


@dataclass
class FakeHTTP:
    """An HTTP server whose routes tests change while it runs."""

    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                fake.requests.append((parts.path, query))
                route = fake.routes.get(parts.path)
                if route is None:
                    self.send_error(404)
                    return
                if route.hang:
                    fake._release.wait()
                    return
                body = route.body(query) if callable(route.body) else route.body
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()


class SilentServer:
    """Accepts TCP connections and never sends a byte (a hung service)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(connection)

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=2)
        for connection in self.accepted:
            connection.close()
        self.sock.close()


class FakeAisStream:
    """An aisstream-style WebSocket server: reads one subscription, then sends messages."""

    def __init__(self, messages: list[dict | str], close_after: bool = True) -> None:
        self.messages = messages
        self.subscriptions: list[dict] = []
        self.close_after = close_after

        def handler(connection) -> None:
            self.subscriptions.append(json.loads(connection.recv(timeout=5)))
            for message in self.messages:
                connection.send(message if isinstance(message, str) else json.dumps(message))
            if not self.close_after:
                connection.recv()

        self.server = serve(handler, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def position_message(mmsi: int, lat: float, lon: float, time_utc: str,
                     cog: float = 90.0, sog: float = 12.0, heading: int = 90) -> dict:
    return {
        "MessageType": "PositionReport",
        "MetaData": {"MMSI": mmsi, "ShipName": f"SHIP {mmsi}", "latitude": lat,
                     "longitude": lon, "time_utc": time_utc},
        "Message": {"PositionReport": {"UserID": mmsi, "Latitude": lat, "Longitude": lon,
                                       "Cog": cog, "Sog": sog, "TrueHeading": heading,
                                       "MessageID": 1, "Valid": True}},
    }


def static_message(mmsi: int, ship_type: int, destination: str, time_utc: str) -> dict:
    return {
        "MessageType": "ShipStaticData",
        "MetaData": {"MMSI": mmsi, "time_utc": time_utc},
        "Message": {"ShipStaticData": {"UserID": mmsi, "Type": ship_type,
                                       "Destination": destination, "Name": f"SHIP {mmsi}"}},
    }


# -- fixtures shared by the source tests -------------------------------------------------

FAST = {
    "SOURCE_CONNECT_TIMEOUT_SECONDS": "0.5",
    "SOURCE_READ_TIMEOUT_SECONDS": "0.3",
    "SOURCE_FETCH_BUDGET_SECONDS": "10",
    "AIS_WS_WINDOW_SECONDS": "0.5",
}


def configure(monkeypatch, **values: str) -> None:
    """Set environment variables, then rebuild settings, the HTTP client and breakers."""
    for name, value in values.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, str(value))
    reset_settings_cache()
    http.close_client()
    breakers.breaker.cache_clear()
    breakers.events.clear_pending()


@pytest.fixture
def fake_http():
    server = FakeHTTP()
    yield server
    server.close()
    http.close_client()


@pytest.fixture
def live_env(pg_env, fake_http, monkeypatch):
    """Live mode with every HTTP source pointed at the fake server; AIS stream off."""
    configure(
        monkeypatch,
        SOURCE_MODE="live",
        POLYMARKET_API_URL=fake_http.url,
        GDELT_API_URL=fake_http.url + "/gdelt",
        PORTWATCH_URL=fake_http.url + "/portwatch.csv",
        FREIGHT_RATES_URL=fake_http.url + "/scfi.csv",
        AIS_EXPORT_URL=fake_http.url + "/ais",
        AIS_API_KEY=None,
        **FAST,
    )
    yield fake_http
    configure(monkeypatch)
