"""FastAPI application for the ops API."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, FastAPI

from api import problems, webhooks
from api.middleware import RequestContextMiddleware
from api.routes import ROUTERS

DESCRIPTION = """\
Health probes, circuit breakers, decision generation, maintenance and
Prometheus metrics for RISKCAST.

Reads need no key. Every POST needs an API key in the `X-API-Key` header (or
`Authorization: Bearer <key>`), made with `python -m api create-key NAME`,
is limited per key per minute, is written to the audit log, and honours an
`Idempotency-Key` header for 24 hours. Errors are problem details
(`application/problem+json`).
"""


def create_app(extra_routers: Iterable[APIRouter] = ()) -> FastAPI:
    """Build the ops API; ``extra_routers`` are mounted after the built-in ones."""
    app = FastAPI(title="RISKCAST ops API", version="1.0", description=DESCRIPTION)
    problems.install(app)
    app.add_middleware(RequestContextMiddleware)

    for router in ROUTERS:
        app.include_router(router)
    # Twilio calls these with its own signature instead of an API key.
    app.include_router(webhooks.router)
    # Routers of other areas (for example the Twilio webhooks) are mounted here.
    for router in extra_routers:
        app.include_router(router)
    return app


app = create_app()
