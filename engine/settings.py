"""The one place that reads the environment.

Every setting is validated at start-up. An invalid value raises
``SettingsError`` with the variable's name and the accepted values, so that a
misconfigured process stops before it touches any data.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = ROOT / "data" / "riskcast.db"
DEFAULT_METRICS_DIR = ROOT / "data" / "prometheus"

_SECRET_NAMES = (
    "DATABASE_URL",
    "REDIS_URL",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "POLYMARKET_API_KEY",
    "DASHBOARD_PASSWORD",
    "DASHBOARD_OPERATOR_PASSWORD",
    "AIS_API_KEY",
)

# Circuit names and their runbook defaults: (failure threshold, recovery timeout in s).
CIRCUIT_DEFAULTS = {
    "polymarket": (5, 60),
    "twilio": (3, 30),
    "ais": (5, 45),
    "news": (10, 120),
    "database": (3, 15),
    "redis": (5, 10),
}


class SettingsError(RuntimeError):
    """Raised when an environment variable contains a value RISKCAST cannot use."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=True)

    DATABASE_URL: str = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    REDIS_URL: str | None = None
    TWILIO_ACCOUNT_SID: str | None = None
    TWILIO_AUTH_TOKEN: SecretStr | None = None
    TWILIO_WHATSAPP_FROM: str = "whatsapp:+14155238886"
    # Base URL of the Twilio REST API; tests point it at a local server.
    TWILIO_API_BASE: str | None = None
    TWILIO_STATUS_CALLBACK_URL: str | None = None
    # Seconds one Twilio REST request may take before it counts as timed out.
    TWILIO_TIMEOUT_SECONDS: float = Field(10.0, gt=0, le=120)
    # Approved WhatsApp templates (Content API SIDs) used outside the 24-hour window.
    TWILIO_TEMPLATE_DECISION_SID: str | None = None
    TWILIO_TEMPLATE_NOTICE_SID: str | None = None
    # Public URL of the ops API as Twilio calls it, for webhook signatures.
    PUBLIC_BASE_URL: str | None = None

    ALERT_BATCH_SIZE: int = Field(100, ge=1, le=5000)
    # Twilio requests one dispatcher has in flight at once.
    ALERT_SEND_CONCURRENCY: int = Field(8, ge=1, le=64)
    ALERT_MAX_ATTEMPTS: int = Field(8, ge=1, le=100)
    ALERT_BACKOFF_BASE_SECONDS: float = Field(5.0, gt=0, le=3600)
    ALERT_BACKOFF_MAX_SECONDS: float = Field(900.0, gt=0, le=86400)
    # Wait after a send whose outcome is unknown before looking it up at Twilio.
    ALERT_RECONCILE_GRACE_SECONDS: float = Field(60.0, ge=0, le=3600)
    # Lease on claimed alerts; must exceed TWILIO_TIMEOUT_SECONDS (checked below).
    ALERT_CLAIM_SECONDS: int = Field(120, ge=2, le=3600)
    ALERT_CRITICAL_BYPASSES_CAP: bool = True
    POLYMARKET_API_KEY: SecretStr | None = None
    ENVIRONMENT: Literal["development", "staging", "production"] = "development"
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    SOURCE_MODE: Literal["replay", "live"] = "replay"
    REPLAY_START: str = "2023-12-15"
    REPLAY_END: str = "2024-03-31"
    REPLAY_STEP_HOURS: int = Field(24, ge=1, le=24 * 31)

    PIPELINE_INTERVAL_SECONDS: int = Field(60, ge=1, le=86400)
    DISPATCH_INTERVAL_SECONDS: int = Field(10, ge=1, le=3600)
    # Each worker writes its heartbeat row this often; /health calls a worker
    # stale once its newest heartbeat is older than the stale threshold.
    WORKER_HEARTBEAT_SECONDS: int = Field(15, ge=1, le=3600)
    WORKER_HEARTBEAT_STALE_SECONDS: int = Field(180, ge=2, le=86400)
    # The worker's own /live, /ready and /metrics; 0 turns the listener off.
    WORKER_HEALTH_PORT: int = Field(8001, ge=0, le=65535)

    POOL_SIZE: int = Field(20, ge=1, le=1000)
    MAX_OVERFLOW: int = Field(10, ge=0, le=1000)
    POOL_TIMEOUT: float = Field(30, gt=0, le=3600)
    POOL_RECYCLE: int = Field(1800, ge=-1)

    PORT: int = Field(8000, ge=1, le=65535)
    # 0.0.0.0 lets a container or pod accept traffic; 127.0.0.1 keeps the API local.
    API_HOST: str = Field("0.0.0.0", min_length=1)
    API_WORKERS: int = Field(1, ge=1, le=64)
    RATE_LIMIT_PER_MINUTE: int = Field(60, ge=1, le=1_000_000)
    # Shared by every process on one host (or pod) so that /metrics sums them.
    PROMETHEUS_MULTIPROC_DIR: str = Field(str(DEFAULT_METRICS_DIR), min_length=1)
    # Dashboard sign-in: DASHBOARD_PASSWORD lets people view, and
    # DASHBOARD_OPERATOR_PASSWORD lets them also act. With an OIDC provider in
    # .streamlit/secrets.toml, DASHBOARD_OPERATORS lists the e-mail addresses
    # (or @domains) that get the operator role.
    DASHBOARD_PASSWORD: SecretStr | None = None
    DASHBOARD_OPERATOR_PASSWORD: SecretStr | None = None
    DASHBOARD_OPERATORS: str = ""
    # The ops API's Prometheus endpoint, read for API latency and error rate.
    DASHBOARD_METRICS_URL: str | None = None
    DASHBOARD_REFRESH_SECONDS: int = Field(30, ge=0, le=3600)

    # Live source endpoints. An unset URL leaves that live source off.
    POLYMARKET_API_URL: str | None = "https://gamma-api.polymarket.com"
    POLYMARKET_TAG_SLUG: str = "geopolitics"
    POLYMARKET_PAGE_SIZE: int = Field(100, ge=1, le=500)
    POLYMARKET_MAX_PAGES: int = Field(5, ge=1, le=100)
    POLYMARKET_KEYWORD_RULES_FILE: str | None = None
    GDELT_API_URL: str | None = "https://api.gdeltproject.org/api/v2/doc/doc"
    GDELT_LOOKBACK_DAYS: int = Field(60, ge=14, le=365)
    AIS_WS_URL: str = "wss://stream.aisstream.io/v0/stream"
    AIS_API_KEY: SecretStr | None = None
    AIS_WS_WINDOW_SECONDS: float = Field(20, gt=0, le=300)
    AIS_WS_MAX_MESSAGES: int = Field(5000, ge=1, le=1_000_000)
    AIS_EXPORT_URL: str | None = None
    PORTWATCH_URL: str | None = None
    FREIGHT_RATES_URL: str | None = None

    # Every live call: connect and read timeouts, connection limits, and the
    # time the whole fetch stage of a tick may take.
    SOURCE_CONNECT_TIMEOUT_SECONDS: float = Field(5, gt=0, le=120)
    SOURCE_READ_TIMEOUT_SECONDS: float = Field(15, gt=0, le=600)
    SOURCE_MAX_CONNECTIONS: int = Field(10, ge=1, le=1000)
    SOURCE_FETCH_BUDGET_SECONDS: float = Field(40, gt=0, le=3600)

    # Data older than this (against domain time) marks the source stale.
    POLYMARKET_STALE_SECONDS: int = Field(6 * 3600, ge=60)
    GDELT_STALE_SECONDS: int = Field(8 * 86400, ge=60)
    AIS_STALE_SECONDS: int = Field(2 * 86400, ge=60)
    PORTWATCH_STALE_SECONDS: int = Field(10 * 86400, ge=60)
    FREIGHT_STALE_SECONDS: int = Field(10 * 86400, ge=60)

    # Circuit breakers: thresholds default to the runbook's table.
    CIRCUIT_POLYMARKET_FAIL_MAX: int = Field(CIRCUIT_DEFAULTS["polymarket"][0], ge=1)
    CIRCUIT_POLYMARKET_RESET_TIMEOUT: float = Field(CIRCUIT_DEFAULTS["polymarket"][1], gt=0)
    CIRCUIT_TWILIO_FAIL_MAX: int = Field(CIRCUIT_DEFAULTS["twilio"][0], ge=1)
    CIRCUIT_TWILIO_RESET_TIMEOUT: float = Field(CIRCUIT_DEFAULTS["twilio"][1], gt=0)
    CIRCUIT_AIS_FAIL_MAX: int = Field(CIRCUIT_DEFAULTS["ais"][0], ge=1)
    CIRCUIT_AIS_RESET_TIMEOUT: float = Field(CIRCUIT_DEFAULTS["ais"][1], gt=0)
    CIRCUIT_NEWS_FAIL_MAX: int = Field(CIRCUIT_DEFAULTS["news"][0], ge=1)
    CIRCUIT_NEWS_RESET_TIMEOUT: float = Field(CIRCUIT_DEFAULTS["news"][1], gt=0)
    CIRCUIT_DATABASE_FAIL_MAX: int = Field(CIRCUIT_DEFAULTS["database"][0], ge=1)
    CIRCUIT_DATABASE_RESET_TIMEOUT: float = Field(CIRCUIT_DEFAULTS["database"][1], gt=0)
    CIRCUIT_REDIS_FAIL_MAX: int = Field(CIRCUIT_DEFAULTS["redis"][0], ge=1)
    CIRCUIT_REDIS_RESET_TIMEOUT: float = Field(CIRCUIT_DEFAULTS["redis"][1], gt=0)
    # Each Redis call made for breaker state gives up after this long; after a
    # failure the breakers stay on in-process state for the retry interval.
    CIRCUIT_REDIS_TIMEOUT_SECONDS: float = Field(0.25, gt=0, le=10)
    CIRCUIT_REDIS_RETRY_SECONDS: float = Field(5, ge=0, le=600)

    # Decision engine tuning; docs/decisions.md explains each one.
    SEVERITY_THRESHOLDS_USD: str = "25000,100000,500000"
    DECISION_HORIZON_DAYS: int = Field(30, ge=1, le=180)
    DECISION_MIN_PROBABILITY: float = Field(0.2, ge=0.0, le=1.0)
    MATERIAL_EXPOSURE_CHANGE_PCT: float = Field(20.0, ge=0.0, le=1000.0)

    @field_validator("DATABASE_URL")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("REDIS_URL")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator(
        "POLYMARKET_API_URL", "GDELT_API_URL", "AIS_EXPORT_URL", "PORTWATCH_URL",
        "FREIGHT_RATES_URL",
    )
    @classmethod
    def _check_http_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("AIS_WS_URL")
    @classmethod
    def _check_ws_url(cls, value: str) -> str:
        if not value.startswith(("ws://", "wss://")):
            raise ValueError("must start with ws:// or wss://")
        return value

    @field_validator("POLYMARKET_KEYWORD_RULES_FILE")
    @classmethod
    def _check_rules_file(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not Path(value).is_file():
            raise ValueError("must name an existing JSON file of keyword rules")
        return value

    @field_validator("WORKER_HEARTBEAT_STALE_SECONDS")
    @classmethod
    def _check_stale_after_heartbeat(cls, value: int, info: ValidationInfo) -> int:
        heartbeat = info.data.get("WORKER_HEARTBEAT_SECONDS")
        if heartbeat is not None and value <= heartbeat:
            raise ValueError(
                f"must be greater than WORKER_HEARTBEAT_SECONDS ({heartbeat}), or every "
                "worker looks stale between two heartbeats; raise it or lower "
                "WORKER_HEARTBEAT_SECONDS"
            )
        return value

    @field_validator("TWILIO_TEMPLATE_DECISION_SID", "TWILIO_TEMPLATE_NOTICE_SID")
    @classmethod
    def _check_content_sid(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not re.fullmatch(r"HX[0-9a-fA-F]{32}", value):
            raise ValueError(
                "must be a Twilio Content SID: HX followed by 32 hexadecimal digits"
            )
        return value

    @field_validator("PUBLIC_BASE_URL", "TWILIO_API_BASE", "TWILIO_STATUS_CALLBACK_URL")
    @classmethod
    def _check_twilio_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("ALERT_CLAIM_SECONDS")
    @classmethod
    def _check_claim_covers_timeout(cls, value: int, info: ValidationInfo) -> int:
        timeout = info.data.get("TWILIO_TIMEOUT_SECONDS")
        if timeout is not None and value <= timeout:
            raise ValueError(
                f"must be greater than TWILIO_TIMEOUT_SECONDS ({timeout:g}), so that a "
                "claimed alert's lease outlives any single send"
            )
        return value

    @field_validator("DASHBOARD_METRICS_URL")
    @classmethod
    def _check_metrics_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL such as http://api:8000/metrics")
        return value

    @field_validator("REPLAY_START", "REPLAY_END")
    @classmethod
    def _check_date(cls, value: str) -> str:
        from datetime import date

        date.fromisoformat(value)
        return value

    @field_validator("SEVERITY_THRESHOLDS_USD")
    @classmethod
    def _check_thresholds(cls, value: str) -> str:
        parse_thresholds(value)
        return value

    @property
    def severity_thresholds(self) -> tuple[float, float, float]:
        """Lower bounds in USD of MEDIUM, HIGH and CRITICAL expected loss."""
        return parse_thresholds(self.SEVERITY_THRESHOLDS_USD)

    @property
    def is_postgres(self) -> bool:
        return self.DATABASE_URL.startswith("postgresql")

    @property
    def twilio_configured(self) -> bool:
        return bool(self.TWILIO_ACCOUNT_SID and self.TWILIO_AUTH_TOKEN)

    @property
    def status_callback_url(self) -> str | None:
        """The URL Twilio posts delivery statuses to, if any."""
        if self.TWILIO_STATUS_CALLBACK_URL:
            return self.TWILIO_STATUS_CALLBACK_URL
        if self.PUBLIC_BASE_URL:
            return f"{self.PUBLIC_BASE_URL}/webhooks/twilio/status"
        return None

    def circuit_limits(self, name: str) -> tuple[int, float]:
        """Return (failure threshold, recovery timeout in seconds) of a circuit."""
        key = name.upper()
        fail_max = getattr(self, f"CIRCUIT_{key}_FAIL_MAX")
        return fail_max, getattr(self, f"CIRCUIT_{key}_RESET_TIMEOUT")


def parse_thresholds(value: str) -> tuple[float, float, float]:
    """Parse "25000,100000,500000" into three ascending positive USD amounts."""
    expected = (
        "must be three ascending positive USD amounts separated by commas, "
        "for example 25000,100000,500000"
    )
    try:
        amounts = tuple(float(part) for part in value.split(","))
    except ValueError:
        raise ValueError(expected) from None
    ascending = all(a < b for a, b in zip(amounts, amounts[1:]))
    if len(amounts) != 3 or amounts[0] <= 0 or not ascending:
        raise ValueError(expected)
    return amounts


def normalise_database_url(value: str) -> str:
    """Map the URL forms operators write onto SQLAlchemy's psycopg 3 driver."""
    value = value.strip()
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if value.startswith(prefix):
            return "postgresql+psycopg://" + value[len(prefix) :]
    if value.startswith(("postgresql+psycopg://", "sqlite:///", "sqlite://")):
        return value
    raise ValueError(
        "must be a postgresql://user@host/db or sqlite:///path URL"
    )


def _read_secret_files(environ: dict[str, str]) -> dict[str, str]:
    """Fill NAME from the file named by NAME_FILE, for container secrets."""
    values = dict(environ)
    for name in _SECRET_NAMES:
        path = environ.get(f"{name}_FILE")
        if path and not environ.get(name):
            try:
                values[name] = Path(path).read_text().strip()
            except OSError as exc:
                raise SettingsError(
                    f"{name}_FILE={path!r} cannot be read ({exc.strerror}); "
                    "point it at a readable file or set the value directly."
                ) from exc
    return values


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build settings from ``environ`` (the process environment by default)."""
    values = _read_secret_files(dict(os.environ if environ is None else environ))
    known = {k: v for k, v in values.items() if k in Settings.model_fields}
    try:
        return Settings(_env_file=None, **known)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, known)) from None


def _describe(exc: ValidationError, values: dict[str, str]) -> str:
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "?"
        shown = "<hidden>" if name in _SECRET_NAMES else repr(values.get(name))
        accepted = _accepted(name, error)
        lines.append(f"{name}={shown} is invalid: {accepted}")
    return "; ".join(lines)


def _accepted(name: str, error: dict) -> str:
    field = Settings.model_fields.get(name)
    annotation = getattr(field, "annotation", None)
    choices = getattr(annotation, "__args__", None)
    if error["type"] == "literal_error" and choices:
        return "accepted values are " + ", ".join(str(c) for c in choices)
    return error["msg"].removeprefix("Value error, ")


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    return load_settings()


def reset_settings_cache() -> None:
    get_settings.cache_clear()
