"""Run a mutating request: idempotency, the action, and its audit entry.

Every mutating endpoint hands its work to ``execute``. The audit entry is
written in the action's own transaction before the action runs, so an action
that cannot be audited because the database is down does not run. A failed
action leaves an entry that records how it failed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.problems import Problem, problem_response
from engine import audit, idempotency, metrics
from engine.apikeys import Principal
from engine.db import DatabaseBusyError, session_scope
from engine.idempotency import (
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    InvalidIdempotencyKeyError,
    StoredResponse,
)

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


def idempotency_key_header(
    value: str | None = Header(
        None, alias=IDEMPOTENCY_HEADER, min_length=1, max_length=255,
        pattern=idempotency.KEY_PATTERN.pattern,
        description="Any unique string (a UUID); a repeat within 24 hours returns the "
                    "first response without acting again.",
    ),
) -> str | None:
    """Declare and validate the Idempotency-Key header; ``execute`` reads it."""
    return value


@dataclass
class Outcome:
    """The body returned to the client, and the summary kept in the audit log."""

    body: dict
    audit: dict = field(default_factory=dict)
    status_code: int = 200


def execute(request: Request, principal: Principal, action: str, target: str,
            perform: Callable[[Session], Outcome], request_body: object = None) -> Response:
    """Run ``perform`` once per Idempotency-Key, audited, and build its response."""
    target = _printable(target)
    key = request.headers.get(IDEMPOTENCY_HEADER)
    described = f"{request.method} {request.url.path} by {principal.actor}"
    fingerprint = idempotency.fingerprint(
        request.method, request.url.path, _canonical_query(request),
        json.dumps(jsonable_encoder(request_body), sort_keys=True), principal.name,
    )
    if key is not None:
        stored = _begin(key, fingerprint)
        if stored is not None:
            metrics.IDEMPOTENT_REPLAYS.inc()
            log.info("%s: replayed the response stored for Idempotency-Key %s", described, key)
            return _with_headers(request, Response(
                stored.body, status_code=stored.status_code, media_type=stored.media_type,
                headers={REPLAYED_HEADER: "true"},
            ))

    try:
        response = _run_audited(request, principal, action, target, perform)
    except BaseException:
        if key is not None:
            idempotency.release(key, fingerprint)
        raise

    if key is not None:
        if response.status_code < 500:
            idempotency.complete(key, fingerprint, StoredResponse(
                response.status_code, response.body.decode(), response.media_type,
            ), described)
        else:
            idempotency.release(key, fingerprint)
    return _with_headers(request, response)


def _run_audited(request: Request, principal: Principal, action: str, target: str,
                 perform: Callable[[Session], Outcome]) -> Response:
    try:
        with session_scope() as session:
            entry = audit.record(session, principal.actor, action, target,
                                 result={"status": "running"})
            outcome = perform(session)
            entry.result = {"status": outcome.status_code, **outcome.audit}
    except Problem as problem:
        _audit_failure(principal, action, target, problem.status, problem.detail)
        return problem_response(request, problem)
    except (DatabaseBusyError, SQLAlchemyError):
        # The database cannot store an audit entry either, so the error handler returns 503.
        raise
    except Exception as exc:
        _audit_failure(principal, action, target, 500, type(exc).__name__)
        raise
    return JSONResponse(jsonable_encoder(outcome.body), status_code=outcome.status_code)


def _audit_failure(principal: Principal, action: str, target: str, status: int,
                   error: str) -> None:
    try:
        with session_scope() as session:
            audit.record(session, principal.actor, action, target,
                         result={"status": status, "error": error})
    except (DatabaseBusyError, SQLAlchemyError) as exc:
        log.error("audit entry for %s on %s by %s (status %d) could not be written: %s",
                  action, target, principal.actor, status, type(exc).__name__)


def _begin(key: str, fingerprint: str) -> StoredResponse | None:
    try:
        return idempotency.begin(key, fingerprint)
    except InvalidIdempotencyKeyError as exc:
        raise Problem(422, "Invalid Idempotency-Key", str(exc),
                      slug="invalid-idempotency-key") from None
    except IdempotencyKeyReusedError as exc:
        raise Problem(422, "Idempotency-Key reused", str(exc),
                      slug="idempotency-key-reused") from None
    except IdempotencyKeyInUseError as exc:
        raise Problem(409, "Idempotency-Key in use", str(exc),
                      slug="idempotency-key-in-use", headers={"Retry-After": "2"}) from None


def _printable(text: str, max_length: int = 200) -> str:
    # Targets come from URLs; control characters would be rejected by PostgreSQL.
    return "".join(c if c.isprintable() else "?" for c in text)[:max_length]


def _canonical_query(request: Request) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(request.query_params.multi_items()))


def _with_headers(request: Request, response: Response) -> Response:
    limit = getattr(request.state, "rate_limit", None)
    if limit is not None:
        response.headers.update(limit.headers())
    return response
