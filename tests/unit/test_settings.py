"""Settings are read from the environment once, typed, and validated."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
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


README = Path(__file__).resolve().parents[2] / "README.md"
# Read by prometheus_client itself, documented beside ours.
NOT_SETTINGS = {"PROMETHEUS_MULTIPROC_DIR"}


def readme_configuration() -> dict[str, str]:
    """The README's Configuration table: variable -> its default as written."""
    text = README.read_text()
    table = text[text.index("## Configuration"):text.index("## Operations")]
    rows: dict[str, str] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([A-Z_]+)`", cells[0])
        defaults = cells[1].split(" / ")
        for i, name in enumerate(names):
            rows[name] = defaults[i] if len(defaults) == len(names) else cells[1]
    return rows


def test_every_setting_is_in_the_readme_with_its_default() -> None:
    """The README's table lists exactly the environment variables `Settings` reads (their
    names come from the fields), and a default written as one literal is the field's."""
    documented = readme_configuration()
    fields = {Settings.env_name(f.name): f for f in msgspec.structs.fields(Settings)}
    assert set(documented) - NOT_SETTINGS == set(fields)
    checked = 0
    for name, written in documented.items():
        literal = re.fullmatch(r"`([^`]*)`", written)
        if name in NOT_SETTINGS or literal is None:
            continue
        default = fields[name].default
        assert literal.group(1) == (f"{default:g}" if isinstance(default, float) else str(default)), name
        checked += 1
    assert checked >= 25  # the table's plain defaults are checked, not skipped


def test_each_field_is_read_from_its_own_variable() -> None:
    """Setting a field's variable (derived from the field's name) changes that field."""
    numbers = [f for f in msgspec.structs.fields(Settings) if f.type in (int, float)]
    assert len(numbers) >= 20
    for field in numbers:
        settings = Settings.from_env({Settings.env_name(field.name): "7"})
        assert getattr(settings, field.name) == 7, field.name
