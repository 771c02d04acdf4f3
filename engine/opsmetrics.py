"""API latency and error rate from the ops API's Prometheus endpoint.

The dashboard runs in its own process, so its in-process registry never sees
API requests. It scrapes ``DASHBOARD_METRICS_URL`` instead and keeps recent
samples, so that p95 latency and the error rate cover the last five minutes
as the runbook's PromQL does (``rate(...[5m])``). Until a sample at least 30
seconds old exists, the figures cover everything since the API started.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

log = logging.getLogger(__name__)

WINDOW_SECONDS = 300.0
MIN_WINDOW_SECONDS = 30.0
TIMEOUT_SECONDS = 2.0


class MetricsUnavailableError(RuntimeError):
    """Raised when the metrics endpoint cannot be read or parsed."""


@dataclass
class Sample:
    at: float
    buckets: dict[float, float] = field(default_factory=dict)
    requests: float = 0.0
    errors: float = 0.0
    pool_checked_out: float | None = None
    pool_capacity: float | None = None


@dataclass
class ApiStats:
    p95_seconds: float | None
    error_rate: float | None
    requests: float
    window_seconds: float | None
    pool_checked_out: float | None
    pool_capacity: float | None

    @property
    def window_label(self) -> str:
        if self.window_seconds is None:
            return "since the API started"
        return f"over the last {self.window_seconds / 60:.0f} min"


def parse_sample(body: str, at: float) -> Sample:
    """Sum the runbook's API series over every label set."""
    sample = Sample(at)
    for family in text_string_to_metric_families(body):
        for item in family.samples:
            if item.name == "http_request_duration_seconds_bucket":
                bound = float(item.labels["le"])
                sample.buckets[bound] = sample.buckets.get(bound, 0.0) + item.value
            elif item.name == "http_requests_total":
                sample.requests += item.value
                if str(item.labels.get("status", "")).startswith("5"):
                    sample.errors += item.value
            elif item.name == "riskcast_db_pool_checked_out":
                sample.pool_checked_out = (sample.pool_checked_out or 0.0) + item.value
            elif item.name == "riskcast_db_pool_capacity":
                sample.pool_capacity = (sample.pool_capacity or 0.0) + item.value
    return sample


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Estimate a quantile from cumulative buckets the way PromQL's histogram_quantile does."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    previous_bound, previous_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return previous_bound
            if count == previous_count:
                return bound
            return previous_bound + (bound - previous_bound) * (
                (rank - previous_count) / (count - previous_count))
        previous_bound, previous_count = bound, count
    return previous_bound


def _delta(current: Sample, base: Sample | None) -> tuple[dict[float, float], float, float] | None:
    if base is None:
        return current.buckets, current.requests, current.errors
    buckets = {b: v - base.buckets.get(b, 0.0) for b, v in current.buckets.items()}
    requests = current.requests - base.requests
    errors = current.errors - base.errors
    if requests < 0 or errors < 0 or any(v < 0 for v in buckets.values()):
        return None  # the API restarted and its counters began again
    return buckets, requests, errors


class MetricsReader:
    """Scrape the metrics URL and keep samples for the rate window; one per process."""

    def __init__(self, url: str, fetch: Callable[[str], str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self._fetch = fetch or self._http_get
        self._clock = clock
        self._samples: deque[Sample] = deque(maxlen=120)
        self._lock = threading.Lock()

    @staticmethod
    def _http_get(url: str) -> str:
        response = httpx.get(url, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        return response.text

    def read(self) -> ApiStats:
        try:
            body = self._fetch(self.url)
            sample = parse_sample(body, self._clock())
        except (httpx.HTTPError, ValueError) as exc:
            raise MetricsUnavailableError(f"{self.url} could not be read: {exc}") from exc
        with self._lock:
            base = self._base(sample.at)
            self._samples.append(sample)
        delta = _delta(sample, base)
        window = None if base is None else sample.at - base.at
        if delta is None:
            delta, window = _delta(sample, None), None
        buckets, requests, errors = delta
        return ApiStats(
            p95_seconds=quantile(0.95, buckets),
            error_rate=None if requests <= 0 else errors / requests,
            requests=requests,
            window_seconds=window,
            pool_checked_out=sample.pool_checked_out,
            pool_capacity=sample.pool_capacity,
        )

    def _base(self, now: float) -> Sample | None:
        """The oldest sample inside the window that is at least MIN_WINDOW_SECONDS old."""
        for sample in self._samples:
            age = now - sample.at
            if MIN_WINDOW_SECONDS <= age <= WINDOW_SECONDS:
                return sample
        return None
