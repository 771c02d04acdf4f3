"""OpenAPI descriptions of the problem responses each endpoint can give."""

from __future__ import annotations

from api.problems import MEDIA_TYPE
from api.schemas import ProblemDetail

_DESCRIPTIONS = {
    400: "The request body is not valid JSON.",
    401: "No API key, or an unknown or revoked one. The body says how to get a key.",
    404: "The named circuit or customer does not exist.",
    409: "A request with the same Idempotency-Key is still running.",
    422: "The request does not match this schema, or reuses an Idempotency-Key for "
         "a different request.",
    429: "Over the key's per-minute limit; Retry-After gives the seconds to wait.",
    503: "The database is busy (every pooled connection in use) or down.",
}


def problems(*codes: int) -> dict[int | str, dict]:
    """Return the ``responses`` entry for these problem status codes."""
    return {
        code: {
            "model": ProblemDetail,
            "description": _DESCRIPTIONS[code],
            "content": {MEDIA_TYPE: {}},
        }
        for code in codes
    }


MUTATION_PROBLEMS = problems(401, 409, 422, 429, 503)
