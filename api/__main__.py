"""``python -m api``: serve the ops API, or manage its API keys."""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m api",
        description="Serve the RISKCAST ops API on API_HOST:PORT with API_WORKERS "
                    "processes (the default), or manage API keys.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", help="serve the API (the default)")
    create = commands.add_parser(
        "create-key", help="create an API key; the key is printed on the last line"
    )
    create.add_argument("name", help="a name for the key's holder, e.g. oncall-alice")
    commands.add_parser("list-keys", help="list keys with their status (never the keys)")
    revoke = commands.add_parser("revoke-key", help="revoke a key by name")
    revoke.add_argument("name")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    from engine.settings import SettingsError, get_settings

    try:
        settings = get_settings()
        from engine.logs import configure_logging

        configure_logging()
        import engine.metrics  # noqa: F401  (validates PROMETHEUS_MULTIPROC_DIR early)
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2

    if args.command in ("create-key", "list-keys", "revoke-key"):
        from api.cli import run

        return run(args.command, getattr(args, "name", None))

    import uvicorn

    uvicorn.run("api.app:app", host=settings.API_HOST, port=settings.PORT,
                workers=settings.API_WORKERS, log_level=settings.LOG_LEVEL.lower(),
                access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
