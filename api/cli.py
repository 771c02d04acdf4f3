"""API key commands: ``create-key NAME``, ``list-keys`` and ``revoke-key NAME``."""

from __future__ import annotations

import getpass
import sys
from typing import TextIO

from sqlalchemy.exc import OperationalError, ProgrammingError

from engine import apikeys, audit
from engine.db import DatabaseBusyError, session_scope


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        # Containers often run as a user id with no passwd entry.
        return "cli"


def create_key(name: str, out: TextIO) -> int:
    with session_scope() as session:
        row, key = apikeys.create(session, name)
        audit.record(session, _actor(), "api_key.create", f"api_key:{name}",
                     result={"role": row.role})
    print(f"Created API key {name!r} (role {row.role}). Send it in the X-API-Key header. "
          "It is shown only this once:", file=out)
    print(key, file=out)
    return 0


def list_keys(out: TextIO) -> int:
    with session_scope() as session:
        rows = apikeys.list_keys(session)
    if not rows:
        print("no API keys; create one with `python -m api create-key NAME`", file=out)
        return 0
    print(f"{'NAME':<32} {'ROLE':<10} {'CREATED':<25} STATUS", file=out)
    for row in rows:
        status = f"revoked {row.revoked_at.isoformat()}" if row.revoked_at else "active"
        print(f"{row.name:<32} {row.role:<10} {row.created_at.isoformat():<25} {status}",
              file=out)
    return 0


def revoke_key(name: str, out: TextIO) -> int:
    with session_scope() as session:
        row, changed = apikeys.revoke(session, name)
        if changed:
            audit.record(session, _actor(), "api_key.revoke", f"api_key:{name}",
                         result={"revoked_at": row.revoked_at.isoformat()})
    if changed:
        print(f"Revoked API key {name!r}; requests with it now get 401.", file=out)
    else:
        print(f"API key {name!r} was already revoked at {row.revoked_at.isoformat()}.",
              file=out)
    return 0


def run(command: str, name: str | None, out: TextIO | None = None,
        err: TextIO | None = None) -> int:
    """Run one key command; return the process exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        if command == "create-key":
            return create_key(name, out)
        if command == "list-keys":
            return list_keys(out)
        return revoke_key(name, out)
    except apikeys.ApiKeyError as exc:
        print(f"error: {exc}", file=err)
        return 1
    except (ProgrammingError, OperationalError, DatabaseBusyError) as exc:
        print(f"error: the database cannot store API keys ({type(exc).__name__}); check "
              "DATABASE_URL and run `alembic upgrade head`", file=err)
        return 1
