"""The outermost layer of every request: request id, metrics and last-resort errors."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import MEDIA_TYPE, internal_error_body
from engine import metrics

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Requests that match no route share one label, so probes with random paths
# cannot create unbounded metric series.
UNMATCHED_PATH = "<unmatched>"


class RequestContextMiddleware:
    """Tag each request with an id, time and count it, and turn crashes into a 500 problem.

    The id comes from a valid ``X-Request-ID`` header or is generated, and is
    sent back in the same header. Metrics are labelled with the route template
    (``/circuits/{name}/reset``), never the raw path.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            log.error("request %s %s %s failed", request_id, scope["method"], scope["path"],
                      exc_info=exc)
            if response_started:
                raise
            status = 500
            await _send_internal_error(send, request_id, scope["path"])
        finally:
            _observe(scope, status, time.perf_counter() - started)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            candidate = value.decode("latin-1")
            if _REQUEST_ID_PATTERN.fullmatch(candidate):
                return candidate
    return uuid.uuid4().hex


async def _send_internal_error(send: Send, request_id: str, path: str) -> None:
    body = json.dumps(internal_error_body(request_id, path)).encode()
    await send({
        "type": "http.response.start",
        "status": 500,
        "headers": [
            (b"content-type", MEDIA_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (REQUEST_ID_HEADER.encode(), request_id.encode()),
        ],
    })
    await send({"type": "http.response.body", "body": body})


def _observe(scope: Scope, status: int, seconds: float) -> None:
    route = scope.get("route")
    path = getattr(route, "path", None) or UNMATCHED_PATH
    method = scope["method"] if scope["method"] in _KNOWN_METHODS else "OTHER"
    metrics.HTTP_REQUEST_DURATION.labels(method, path).observe(seconds)
    metrics.HTTP_REQUESTS.labels(method, path, str(status)).inc()
