"""The worker's own HTTP listener: /live, /ready and /metrics for Kubernetes and Prometheus.

The ops API's /live only reports whether the API process serves, so a worker
pod needs a probe of its own that fails when its scheduler thread has died.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)

# A check returns (healthy, body); the response is 503 when it is unhealthy.
Check = Callable[[], tuple[bool, dict]]
# Metrics return (payload, content type) in the Prometheus text format.
Metrics = Callable[[], tuple[bytes, str]]


class ProbeServer:
    """A small threaded HTTP server for the worker's probes."""

    def __init__(self, port: int, liveness: Check, readiness: Check, metrics: Metrics,
                 host: str = "0.0.0.0") -> None:
        routes = {"/live": liveness, "/ready": readiness}
        handler = type("ProbeHandler", (_Handler,), {"routes": routes, "metrics": metrics})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="probe-server", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread.start()
        log.info("worker probes listening on port %d (/live, /ready, /metrics)", self.port)

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, Check] = {}
    metrics: Metrics

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            payload, content_type = type(self).metrics()
            self._send(200, payload, content_type)
            return
        check = self.routes.get(path)
        if check is None:
            self._send_json(404, {"detail": f"no route {path}; try /live, /ready or /metrics"})
            return
        try:
            healthy, body = check()
        except Exception as exc:  # a probe responds, whatever the check raised
            log.warning("probe %s raised %s: %s", path, type(exc).__name__, exc)
            healthy, body = False, {"status": "error", "detail": f"{type(exc).__name__}: {exc}"}
        self._send_json(200 if healthy else 503, body)

    def _send_json(self, status: int, body: dict) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - base class name
        log.debug("probe %s %s", self.address_string(), format % args)
