"""Dashboard roles: viewers see every page, operators may also act.

Three ways to sign in, chosen from the configuration:

- ``oidc``: an OpenID Connect provider in ``.streamlit/secrets.toml``; the
  addresses in ``DASHBOARD_OPERATORS`` get the operator role, everyone else
  who signs in is a viewer.
- ``password``: ``DASHBOARD_PASSWORD`` gives the viewer role and
  ``DASHBOARD_OPERATOR_PASSWORD`` the operator role. People also type their
  name, which the audit log records.
- ``open`` (development with no password): everyone is an operator.
  ``read-only`` (staging or production with no password): everyone is a
  viewer, so nobody can act on an unprotected dashboard.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.settings import Settings

VIEWER = "viewer"
OPERATOR = "operator"
MAX_NAME_LENGTH = 64
# Failed password attempts allowed per client within the window.
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 300.0


class SignInError(ValueError):
    """Raised when a sign-in attempt is rejected; the message is safe to show."""


@dataclass(frozen=True)
class Identity:
    name: str
    role: str
    method: str

    @property
    def can_act(self) -> bool:
        return self.role == OPERATOR

    @property
    def actor(self) -> str:
        """The audit log's ``actor`` for actions taken by this person."""
        return f"dashboard:{self.name}"


def auth_mode(settings: Settings, oidc_configured: bool) -> str:
    """Return ``oidc``, ``password``, ``open`` or ``read-only``."""
    if oidc_configured:
        return "oidc"
    if settings.DASHBOARD_PASSWORD or settings.DASHBOARD_OPERATOR_PASSWORD:
        return "password"
    return "open" if settings.ENVIRONMENT == "development" else "read-only"


def unauthenticated_identity(mode: str) -> Identity:
    """The identity everyone gets when no sign-in is configured."""
    if mode == "open":
        return Identity("anonymous", OPERATOR, "open")
    return Identity("anonymous", VIEWER, "read-only")


def _matches(secret, password: str) -> bool:
    if secret is None:
        return False
    expected = secret.get_secret_value().encode()
    return hmac.compare_digest(expected, password.encode())


def sign_in_with_password(settings: Settings, name: str, password: str) -> Identity:
    """Check a name and password; return the identity with its role."""
    clean = " ".join(name.split())
    if not clean:
        raise SignInError("Type your name: the audit log records who acted.")
    if len(clean) > MAX_NAME_LENGTH:
        raise SignInError(f"Your name is longer than {MAX_NAME_LENGTH} characters; shorten it.")
    if _matches(settings.DASHBOARD_OPERATOR_PASSWORD, password):
        return Identity(clean, OPERATOR, "password")
    if _matches(settings.DASHBOARD_PASSWORD, password):
        return Identity(clean, VIEWER, "password")
    raise SignInError("Wrong password. Ask the on-call lead for the dashboard password.")


def operator_list(settings: Settings) -> list[str]:
    return [item.strip().lower() for item in settings.DASHBOARD_OPERATORS.split(",")
            if item.strip()]


def role_for_email(settings: Settings, email: str | None) -> str:
    """Operator when the address, or its ``@domain``, is in DASHBOARD_OPERATORS."""
    if not email:
        return VIEWER
    address = email.strip().lower()
    domain = "@" + address.rsplit("@", 1)[-1] if "@" in address else None
    allowed = operator_list(settings)
    return OPERATOR if address in allowed or (domain and domain in allowed) else VIEWER


class SignInThrottle:
    """Count failed attempts per client so a password cannot be guessed quickly."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str) -> list[float]:
        cutoff = self._clock() - FAILURE_WINDOW_SECONDS
        kept = [t for t in self._failures.get(client, []) if t > cutoff]
        self._failures[client] = kept
        return kept

    def check(self, client: str) -> None:
        """Raise SignInError while ``client`` has too many recent failures."""
        with self._lock:
            recent = self._recent(client)
            if len(recent) >= MAX_FAILURES:
                wait = int(recent[0] + FAILURE_WINDOW_SECONDS - self._clock()) + 1
                raise SignInError(
                    f"Too many wrong passwords from this browser; try again in {wait} s."
                )

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client).append(self._clock())

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
