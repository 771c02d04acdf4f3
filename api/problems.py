"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error response of the API goes through here, so a client always gets
a JSON body with ``type``, ``title``, ``status`` and ``detail``, and never a
traceback. Unexpected exceptions are caught by ``api.middleware``, logged
with the request id and turned into ``internal_error_body``.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.db import DatabaseBusyError
from engine.db import _busy_message as busy_message

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:riskcast:problem:"
DATABASE_RETRY_AFTER_SECONDS = 5


class Problem(Exception):
    """Raised by routes and dependencies to return a problem document."""

    def __init__(self, status: int, title: str, detail: str, *, slug: str | None = None,
                 headers: dict[str, str] | None = None, **extra) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.slug = slug
        self.headers = headers or {}
        self.extra = extra


class ProblemResponse(JSONResponse):
    media_type = MEDIA_TYPE


def problem_body(status: int, title: str, detail: str, *, slug: str | None = None,
                 instance: str | None = None, **extra) -> dict:
    body = {
        "type": TYPE_PREFIX + slug if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def problem_response(request: Request, problem: Problem) -> ProblemResponse:
    body = problem_body(problem.status, problem.title, problem.detail, slug=problem.slug,
                        instance=request.url.path, **problem.extra)
    return ProblemResponse(body, status_code=problem.status, headers=problem.headers)


async def _on_problem(request: Request, exc: Problem) -> ProblemResponse:
    return problem_response(request, exc)


async def _on_http_error(request: Request, exc: StarletteHTTPException) -> ProblemResponse:
    status = exc.status_code
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    if status == 404 and exc.detail in (None, "Not Found"):
        detail = (f"no endpoint at {request.method} {request.url.path}; "
                  "GET /docs lists the endpoints")
    elif status == 405:
        allowed = {k.lower(): v for k, v in (exc.headers or {}).items()}.get("allow")
        detail = (f"{request.method} is not allowed on {request.url.path}; "
                  f"allowed: {allowed or 'see GET /docs'}")
    else:
        detail = str(exc.detail)
    return problem_response(request, Problem(status, title, detail, headers=exc.headers))


async def _on_validation_error(request: Request, exc: RequestValidationError) -> ProblemResponse:
    errors = [
        {"location": [str(part) for part in error.get("loc", ())],
         "message": str(error.get("msg", "invalid value")),
         "type": str(error.get("type", "value_error"))}
        for error in exc.errors()
    ]
    summary = "; ".join(f"{'.'.join(e['location'])}: {e['message']}" for e in errors[:5])
    return problem_response(request, Problem(
        422, "Invalid request", f"the request does not match the API schema: {summary}",
        slug="invalid-request", errors=errors,
    ))


async def _on_database_busy(request: Request, exc: DatabaseBusyError) -> ProblemResponse:
    log.warning("request %s %s: %s", request.method, request.url.path, exc)
    return problem_response(request, Problem(
        503, "Database busy", str(exc), slug="database-busy",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    ))


async def _on_pool_timeout(request: Request, _exc: PoolTimeoutError) -> ProblemResponse:
    return await _on_database_busy(request, DatabaseBusyError(busy_message()))


async def _on_database_down(request: Request, exc: OperationalError) -> ProblemResponse:
    log.error("request %s %s: database unavailable: %s", request.method, request.url.path,
              exc.orig if exc.orig is not None else exc)
    return problem_response(request, Problem(
        503, "Database unavailable",
        "the database did not answer; GET /ready shows its state, retry once it is ready",
        slug="database-unavailable",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    ))


def internal_error_body(request_id: str | None, path: str) -> dict:
    """Return the 500 problem, which names the request id and nothing else."""
    return problem_body(
        500, "Internal server error",
        "the request failed on the server; the server log has the details under "
        f"request id {request_id}",
        slug="internal-error", instance=path, request_id=request_id,
    )


def install(app: FastAPI) -> None:
    """Return a problem document for every error of ``app``."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(DatabaseBusyError, _on_database_busy)
    app.add_exception_handler(PoolTimeoutError, _on_pool_timeout)
    app.add_exception_handler(OperationalError, _on_database_down)
