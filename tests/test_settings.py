import pytest

from engine.settings import SettingsError, load_settings


def test_defaults_run_anywhere():
    settings = load_settings({})

    assert settings.DATABASE_URL.startswith("sqlite:///")
    assert settings.DATABASE_URL.endswith("data/riskcast.db")
    assert settings.REDIS_URL is None
    assert settings.SOURCE_MODE == "replay"
    assert not settings.twilio_configured


def test_plain_postgresql_url_accepted():
    settings = load_settings({"DATABASE_URL": "postgresql://root@127.0.0.1/test"})

    assert settings.DATABASE_URL == "postgresql+psycopg://root@127.0.0.1/test"
    assert settings.is_postgres


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ENVIRONMENT", "prod", "development, staging, production"),
        ("LOG_LEVEL", "verbose", "DEBUG, INFO, WARNING, ERROR"),
        ("SOURCE_MODE", "files", "replay, live"),
        ("DATABASE_URL", "mysql://x/y", "postgresql://"),
        ("REDIS_URL", "localhost:6379", "redis://"),
        ("POOL_SIZE", "many", "integer"),
        ("REPLAY_START", "15/12/2023", "REPLAY_START"),
    ],
)
def test_invalid_value_names_variable(name, value, expected):
    with pytest.raises(SettingsError) as error:
        load_settings({name: value})

    assert name in str(error.value)
    assert expected in str(error.value)


def test_secret_value_hidden_in_error():
    with pytest.raises(SettingsError) as error:
        load_settings({"DATABASE_URL": "mysql://admin:hunter2@db/x"})

    assert "hunter2" not in str(error.value)


def test_secret_read_from_file(tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret\n")

    settings = load_settings({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN_FILE": str(token)})

    assert settings.TWILIO_AUTH_TOKEN.get_secret_value() == "s3cret"
    assert settings.twilio_configured


def test_unreadable_secret_file_named(tmp_path):
    with pytest.raises(SettingsError) as error:
        load_settings({"TWILIO_AUTH_TOKEN_FILE": str(tmp_path / "missing")})

    assert "TWILIO_AUTH_TOKEN_FILE" in str(error.value)
