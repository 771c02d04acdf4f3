"""The shared httpx client for live sources: explicit timeouts and connection limits."""

from __future__ import annotations

import functools
import time

import httpx

from engine.settings import Settings, get_settings

USER_AGENT = "riskcast/1.0"
# A body larger than this is cut off as an error instead of filling memory.
MAX_BODY_BYTES = 32 * 1024 * 1024


class SourceUnavailable(RuntimeError):
    """Raised when a live source cannot be reached or answers with an error status.

    Counts towards opening the source's circuit, unlike a payload that does
    not parse.
    """

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source}: {detail}")
        self.source = source
        self.detail = detail


def timeout(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(
        connect=settings.SOURCE_CONNECT_TIMEOUT_SECONDS,
        read=settings.SOURCE_READ_TIMEOUT_SECONDS,
        write=settings.SOURCE_READ_TIMEOUT_SECONDS,
        pool=settings.SOURCE_CONNECT_TIMEOUT_SECONDS,
    )


def build_client(settings: Settings) -> httpx.Client:
    return httpx.Client(
        timeout=timeout(settings),
        limits=httpx.Limits(
            max_connections=settings.SOURCE_MAX_CONNECTIONS,
            max_keepalive_connections=max(1, settings.SOURCE_MAX_CONNECTIONS // 2),
            keepalive_expiry=30.0,
        ),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=True,
        max_redirects=3,
    )


@functools.lru_cache(maxsize=1)
def client() -> httpx.Client:
    """Return the process-wide client, built from settings on first use."""
    return build_client(get_settings())


def close_client() -> None:
    if client.cache_info().currsize:
        client().close()
    client.cache_clear()


def get(
    http: httpx.Client,
    source: str,
    url: str,
    params: dict | None = None,
    headers: dict | None = None,
    total_seconds: float | None = None,
) -> bytes:
    """GET ``url`` and return its body; raise SourceUnavailable on any failure.

    The read timeout bounds each wait for bytes; ``total_seconds`` also bounds
    the whole transfer, so a server that trickles bytes cannot hold a tick.
    """
    started = time.monotonic()
    try:
        with http.stream("GET", url, params=params, headers=headers) as response:
            if response.status_code >= 400:
                raise SourceUnavailable(
                    source, f"{response.request.url} answered HTTP {response.status_code}"
                )
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise SourceUnavailable(source, f"{url} sent more than {MAX_BODY_BYTES} bytes")
                if total_seconds is not None and time.monotonic() - started > total_seconds:
                    raise SourceUnavailable(
                        source, f"{url} took longer than {total_seconds:g}s to send its answer"
                    )
    except httpx.TimeoutException as exc:
        raise SourceUnavailable(source, f"{url} timed out ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise SourceUnavailable(source, f"{url} failed: {type(exc).__name__}: {exc}") from exc
    return b"".join(chunks)
