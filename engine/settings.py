"""The one place that reads the environment.

Every setting is validated at start-up. An invalid value raises
``SettingsError`` with the variable's name and the accepted values, so that a
misconfigured process stops before it touches any data.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = ROOT / "data" / "riskcast.db"

_SECRET_NAMES = (
    "DATABASE_URL",
    "REDIS_URL",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "POLYMARKET_API_KEY",
    "DASHBOARD_PASSWORD",
)


class SettingsError(RuntimeError):
    """Raised when an environment variable holds a value RISKCAST cannot use."""


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
    POLYMARKET_API_KEY: SecretStr | None = None
    ENVIRONMENT: Literal["development", "staging", "production"] = "development"
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    SOURCE_MODE: Literal["replay", "live"] = "replay"
    REPLAY_START: str = "2023-12-15"
    REPLAY_END: str = "2024-03-31"
    REPLAY_STEP_HOURS: int = Field(24, ge=1, le=24 * 31)

    PIPELINE_INTERVAL_SECONDS: int = Field(60, ge=1, le=86400)
    DISPATCH_INTERVAL_SECONDS: int = Field(10, ge=1, le=3600)

    POOL_SIZE: int = Field(20, ge=1, le=1000)
    MAX_OVERFLOW: int = Field(10, ge=0, le=1000)
    POOL_TIMEOUT: float = Field(30, gt=0, le=3600)
    POOL_RECYCLE: int = Field(1800, ge=-1)

    PORT: int = Field(8000, ge=1, le=65535)
    DASHBOARD_PASSWORD: SecretStr | None = None

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
