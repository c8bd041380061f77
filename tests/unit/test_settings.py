"""Settings are read from the environment once, typed, and validated."""

from __future__ import annotations

import pytest

from pg_social_notifications.migrations import yoyo_url
from pg_social_notifications.settings import Settings


def test_defaults_without_environment() -> None:
    """With nothing set, the service uses the embedded database and the documented defaults."""
    settings = Settings.from_env({})
    assert settings.database_url is None
    assert (settings.host, settings.port, settings.jwt_user_claim) == ("127.0.0.1", 8000, "user_id")
    assert (settings.retention_days, settings.event_retention_days) == (90, 7)
    assert settings.allowed_origins == ()


def test_environment_strings_are_converted_to_types() -> None:
    """Numbers and comma-separated lists arrive as strings and are typed on read."""
    settings = Settings.from_env({
        "NOTIFICATIONS_PORT": "9001",
        "NOTIFICATIONS_ALLOWED_ORIGINS": "https://a.example, https://b.example ,",
        "NOTIFICATIONS_JWT_USER_CLAIM": "sub",
        "NOTIFICATIONS_WS_IDLE_TIMEOUT": "12.5",
        "DATABASE_URL": "postgresql://u@h/db",
    })
    assert settings.port == 9001
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    assert settings.jwt_user_claim == "sub"
    assert settings.ws_idle_timeout == 12.5
    assert settings.database_url == "postgresql://u@h/db"


@pytest.mark.parametrize(("name", "value"), [
    ("NOTIFICATIONS_JWT_USER_CLAIM", "email"),
    ("NOTIFICATIONS_PORT", "eighty"),
])
def test_invalid_values_are_refused_at_start(name: str, value: str) -> None:
    """A setting that cannot be understood stops the service at start, not later."""
    with pytest.raises(ValueError):
        Settings.from_env({name: value})


def test_yoyo_gets_the_psycopg3_driver() -> None:
    """A postgresql:// URL is handed to yoyo with its psycopg 3 scheme; others are refused."""
    assert yoyo_url("postgresql://u:p@h:5432/d") == "postgresql+psycopg://u:p@h:5432/d"
    assert yoyo_url("postgres://h/d") == "postgresql+psycopg://h/d"
    with pytest.raises(ValueError):
        yoyo_url("mysql://h/d")
