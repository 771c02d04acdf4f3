"""Fixed-rate HTTP load: wrk paced by a Lua script, or an asyncio httpx generator.

wrk (Debian package ``wrk``) is used when it is on PATH. Each of its
connections waits ``connections / rate`` seconds between requests, so the
offered rate is close to ``rate`` while latencies stay well under that gap.
Without wrk an open-loop asyncio generator built on httpx starts one request
every ``1 / rate`` seconds. Both report the latency from sending a request to
reading its response.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

WRK_SCRIPT = Path(__file__).with_name("wrk_paced.lua")
WRK_CONNECTIONS = 20
_RESULT = re.compile(r"BENCH_RESULT (.*)")


@dataclass
class LoadResult:
    tool: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_load(url: str, rate: float, seconds: float, method: str = "GET",
             body: str | None = None, api_key: str | None = None,
             tool: str | None = None) -> LoadResult:
    """Offer ``rate`` requests per second to ``url`` for ``seconds``."""
    if rate <= 0 or seconds <= 0:
        raise ValueError(f"rate={rate} and seconds={seconds} must both be positive")
    chosen = tool or ("wrk" if wrk_available() else "httpx")
    if chosen == "wrk":
        return _run_wrk(url, rate, seconds, method, body, api_key)
    return asyncio.run(_run_httpx(url, rate, seconds, method, body, api_key))


def _run_wrk(url: str, rate: float, seconds: float, method: str, body: str | None,
             api_key: str | None) -> LoadResult:
    connections = max(1, min(WRK_CONNECTIONS, int(rate)))
    env = dict(os.environ, BENCH_INTERVAL_MS=str(int(round(connections * 1000 / rate))),
               BENCH_METHOD=method, BENCH_BODY=body or "", BENCH_API_KEY=api_key or "")
    command = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
               "--timeout", "5s", "-s", str(WRK_SCRIPT), url]
    completed = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    match = _RESULT.search(completed.stdout)
    if completed.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed on {url} (exit {completed.returncode}): "
                           f"{(completed.stderr or completed.stdout).strip()[-500:]}")
    fields = {k: int(v) for k, v in (p.split("=") for p in match.group(1).split())}
    errors = sum(fields[k] for k in ("connect", "read", "write", "status", "timeout"))
    return LoadResult("wrk", fields["requests"], errors, fields["duration_us"] / 1e6,
                      fields["p50"] / 1000, fields["p95"] / 1000, fields["p99"] / 1000)


async def _run_httpx(url: str, rate: float, seconds: float, method: str, body: str | None,
                     api_key: str | None) -> LoadResult:
    headers = {"X-API-Key": api_key} if api_key else {}
    if body:
        headers["Content-Type"] = "application/json"
    latencies: list[float] = []
    errors = 0
    total = max(1, int(rate * seconds))
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)

    async with httpx.AsyncClient(limits=limits, timeout=5.0) as client:
        async def one() -> None:
            nonlocal errors
            started = time.perf_counter()
            try:
                response = await client.request(method, url, content=body, headers=headers)
                if response.status_code >= 400:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

        began = time.perf_counter()
        tasks = []
        for index in range(total):
            delay = began + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - began

    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 \
        else latencies * 99
    return LoadResult("httpx", len(latencies), errors, elapsed, cuts[49], cuts[94], cuts[98])
