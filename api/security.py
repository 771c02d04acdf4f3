"""API keys and rate limits for the mutating endpoints.

A key goes in the ``X-API-Key`` header, or as ``Authorization: Bearer <key>``.
Read-only endpoints need no key. Each valid key may make
``RATE_LIMIT_PER_MINUTE`` requests to the mutating endpoints per minute.
"""

from __future__ import annotations

import logging

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Problem
from engine import apikeys, metrics, ratelimit
from engine.apikeys import Principal
from engine.db import session_scope
from engine.settings import get_settings

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
HOW_TO_GET_A_KEY = (
    f"send an API key in the {API_KEY_HEADER} header (or as 'Authorization: Bearer <key>'); "
    "an operator creates one with `python -m api create-key NAME` on a host that can reach "
    "the database, which prints the key on its last line"
)

_api_key_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, scheme_name="ApiKeyHeader",
    description="An API key made with `python -m api create-key NAME`.",
)
_bearer = HTTPBearer(
    auto_error=False, scheme_name="BearerKey",
    description="The same API key as a bearer token.",
)


def _unauthorized(detail: str, reason: str) -> Problem:
    metrics.API_AUTH_FAILURES.labels(reason).inc()
    return Problem(401, "API key required", detail, slug=f"api-key-{reason}",
                   headers={"WWW-Authenticate": 'Bearer realm="riskcast"'})


def require_api_key(
    request: Request,
    header_key: str | None = Security(_api_key_header),
    bearer: HTTPAuthorizationCredentials | None = Security(_bearer),
) -> Principal:
    """Return the caller's principal, or raise a 401 problem that explains how to get a key."""
    presented = header_key or (bearer.credentials if bearer else None)
    action = f"{request.method} {request.url.path}"
    if not presented:
        raise _unauthorized(f"{action} changes state: {HOW_TO_GET_A_KEY}", "missing")

    with session_scope() as session:
        check = apikeys.authenticate(session, presented)
    if check.principal is None:
        if check.revoked_name is not None:
            log.warning("rejected revoked api key %s for %s", check.revoked_name, action)
            raise _unauthorized(
                f"the API key {check.revoked_name!r} was revoked at "
                f"{check.revoked_at.isoformat()}; ask an operator for a new key "
                "(`python -m api create-key NAME`)",
                "revoked",
            )
        log.warning("rejected unknown api key for %s", action)
        raise _unauthorized(f"the API key is not valid: {HOW_TO_GET_A_KEY}", "invalid")

    request.state.principal = check.principal
    return check.principal


def enforce_rate_limit(
    request: Request, principal: Principal = Depends(require_api_key)
) -> Principal:
    """Count the request against its key's limit, and raise a 429 problem when it is over."""
    limit = get_settings().RATE_LIMIT_PER_MINUTE
    result = ratelimit.hit(principal.name, limit)
    request.state.rate_limit = result
    if not result.allowed:
        metrics.API_RATE_LIMITED.labels(result.backend).inc()
        log.warning("api key %s over its limit of %d requests per minute (%d this window)",
                    principal.name, limit, result.count)
        raise Problem(
            429, "Too many requests",
            f"API key {principal.name!r} made {result.count} requests this minute and may "
            f"make {limit}; retry after {result.reset_seconds} s",
            slug="rate-limited", headers=result.headers(),
        )
    return principal
