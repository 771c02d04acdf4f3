import io
import subprocess
import sys

from sqlalchemy import select

from api import cli
from api.__main__ import main
from engine import apikeys
from engine.db import session_scope
from engine.models import ApiKey
from tests.api_helpers import ROOT, audit_entries, client, server_env


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    command, name = argv[0], (argv[1] if len(argv) > 1 else None)
    code = cli.run(command, name, out, err)
    return code, out.getvalue(), err.getvalue()


def test_create_key_prints_key_last(pg_env):
    code, out, _ = _run("create-key", "alice")

    key = out.strip().splitlines()[-1]
    assert code == 0
    assert key.startswith("rc_")
    assert len(key) > 40
    with session_scope() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.name == "alice"))
    assert row.key_hash == apikeys.hash_key(key)
    assert key not in row.key_hash
    assert row.role == "operator"
    with client() as api:
        response = api.post("/circuits/ais/reset", headers={"X-API-Key": key})
    assert response.status_code == 200
    [entry] = audit_entries("api_key.create")
    assert entry.target == "api_key:alice"
    assert entry.actor.startswith("cli")


def test_create_key_command_last_line(pg_env):
    env = server_env(DATABASE_URL=pg_env.url.render_as_string(hide_password=False))

    done = subprocess.run([sys.executable, "-m", "api", "create-key", "bob"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    key = done.stdout.strip().splitlines()[-1]
    with session_scope() as session:
        check = apikeys.authenticate(session, key)
    assert check.principal is not None
    assert check.principal.name == "bob"


def test_create_key_duplicate_name_fails(pg_env):
    _run("create-key", "alice")

    code, out, err = _run("create-key", "alice")

    assert code == 1
    assert out == ""
    assert "'alice' is already used by an active key" in err


def test_create_key_invalid_name_fails(pg_env):
    code, _, err = _run("create-key", "on call!")

    assert code == 1
    assert "invalid API key name 'on call!'" in err
    with session_scope() as session:
        assert session.scalars(select(ApiKey)).all() == []


def test_list_keys_never_shows_secrets(pg_env):
    _, created, _ = _run("create-key", "alice")
    _run("create-key", "bob")
    _run("revoke-key", "bob")
    key = created.strip().splitlines()[-1]

    code, out, _ = _run("list-keys")

    assert code == 0
    lines = out.strip().splitlines()
    assert lines[1].split()[0] == "alice"
    assert lines[1].endswith("active")
    assert lines[2].split()[0] == "bob"
    assert "revoked" in lines[2]
    assert key not in out
    assert "sha256" not in out


def test_list_keys_empty(pg_env):
    code, out, _ = _run("list-keys")

    assert code == 0
    assert "create-key" in out


def test_revoked_key_gets_401(pg_env):
    _, created, _ = _run("create-key", "alice")
    key = created.strip().splitlines()[-1]

    code, out, _ = _run("revoke-key", "alice")
    with client() as api:
        response = api.post("/circuits/ais/reset", headers={"X-API-Key": key})

    assert code == 0
    assert "Revoked API key 'alice'" in out
    assert response.status_code == 401
    assert "'alice' was revoked" in response.json()["detail"]
    [entry] = audit_entries("api_key.revoke")
    assert entry.target == "api_key:alice"
    assert audit_entries("circuit.reset") == []


def test_revoke_twice_reports_first_time(pg_env):
    _run("create-key", "alice")
    _run("revoke-key", "alice")

    code, out, _ = _run("revoke-key", "alice")

    assert code == 0
    assert "already revoked" in out
    assert len(audit_entries("api_key.revoke")) == 1


def test_revoke_unknown_name_fails(pg_env):
    code, _, err = _run("revoke-key", "ghost")

    assert code == 1
    assert "no API key named 'ghost'" in err


def test_key_commands_without_schema_fail_clearly(tmp_path, monkeypatch, capsys):
    from tests.conftest import _reset_process_state

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    _reset_process_state()
    try:
        code = main(["list-keys"])
    finally:
        _reset_process_state()

    assert code == 1
    assert "alembic upgrade head" in capsys.readouterr().err


def test_invalid_setting_stops_command(monkeypatch, capsys):
    from engine.settings import reset_settings_cache

    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "lots")
    reset_settings_cache()
    try:
        code = main(["list-keys"])
    finally:
        monkeypatch.delenv("RATE_LIMIT_PER_MINUTE")
        reset_settings_cache()

    assert code == 2
    assert "RATE_LIMIT_PER_MINUTE" in capsys.readouterr().err


def test_unusable_metrics_dir_stops_command(tmp_path):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    env = server_env(PROMETHEUS_MULTIPROC_DIR=str(not_a_directory / "metrics"))

    done = subprocess.run([sys.executable, "-m", "api", "list-keys"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 2
    assert "PROMETHEUS_MULTIPROC_DIR=" in done.stderr
    assert "writable directory" in done.stderr
