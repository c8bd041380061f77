"""The Web Push settings: a PEM key with a mailto: or https: subject, or nothing."""

from __future__ import annotations

import pytest
from py_vapid import Vapid02

from pg_social_notifications.settings import Settings


def _pem() -> str:
    vapid = Vapid02()
    vapid.generate_keys()
    return str(vapid.private_pem().decode())


def test_push_is_off_by_default_with_the_documented_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.vapid_private_key == "" and settings.push_insecure_hosts == ()
    assert (settings.push_delay, settings.push_ttl) == (3.0, 86400)
    assert settings.max_push_subscriptions_per_user == 10


def test_a_key_with_escaped_newlines_and_a_subject_is_taken() -> None:
    pem = _pem()
    settings = Settings.from_env({"NOTIFICATIONS_VAPID_PRIVATE_KEY": pem.replace("\n", "\\n"),
                                  "NOTIFICATIONS_VAPID_SUBJECT": "https://art.example",
                                  "NOTIFICATIONS_PUSH_INSECURE_HOSTS": "127.0.0.1, push.test ,"})
    assert settings.vapid_private_key == pem
    assert settings.push_insecure_hosts == ("127.0.0.1", "push.test")


@pytest.mark.parametrize("env", [
    {"NOTIFICATIONS_VAPID_PRIVATE_KEY": "not a pem", "NOTIFICATIONS_VAPID_SUBJECT": "mailto:a@b.example"},
    {"NOTIFICATIONS_VAPID_PRIVATE_KEY": "PEM"},  # replaced by a real one below: no subject
    {"NOTIFICATIONS_VAPID_SUBJECT": "http://art.example"},
    {"NOTIFICATIONS_VAPID_SUBJECT": "admin@art.example"},
    {"NOTIFICATIONS_PUSH_DELAY": "-1"},
    {"NOTIFICATIONS_MAX_PUSH_SUBSCRIPTIONS_PER_USER": "0"},
])
def test_bad_push_settings_stop_the_start(env: dict[str, str]) -> None:
    env = {k: (_pem() if v == "PEM" else v) for k, v in env.items()}
    with pytest.raises(ValueError):
        Settings.from_env(env)
