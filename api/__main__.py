"""``python -m api``: serve the ops API on PORT (8000 by default)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from engine.settings import SettingsError, get_settings

    try:
        settings = get_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2

    import uvicorn

    from engine.logs import configure_logging

    configure_logging()
    uvicorn.run("api.app:app", host="0.0.0.0", port=settings.PORT,
                log_level=settings.LOG_LEVEL.lower(), access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
