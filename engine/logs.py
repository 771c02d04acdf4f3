"""Logging set-up shared by the worker, the API and the dashboard."""

from __future__ import annotations

import logging

from engine.settings import get_settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging() -> None:
    level = get_settings().LOG_LEVEL
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format=FORMAT)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "twilio.http_client", "alembic.runtime.migration",
                  "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
