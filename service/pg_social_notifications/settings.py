"""Settings: one typed object, read from the environment once."""

from __future__ import annotations

import os
import re
from pathlib import Path

import msgspec

# A cookie name is an HTTP token (RFC 6265, 4.1.1): no separators, spaces, `=` or `;`.
COOKIE_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")
VARIANT_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")


def _default_pgdata() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "notifications" / "pgdata")


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Every knob of the service. See README.md § Configuration."""

    database_url: str | None = None
    jwt_secret: str | None = None
    jwt_user_claim: str = "user_id"  # or "sub": the user's public_sqid
    # The name of the host's session cookie holding the same JWT, for cookie-session
    # sites; empty: tokens come in headers (and socket messages) only (auth.py).
    jwt_cookie: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    pgdata: str = msgspec.field(default_factory=_default_pgdata)
    pg_port: int = 54329
    retention_days: int = 90
    event_retention_days: int = 7
    cleanup_batch_size: int = 5000
    allowed_origins: tuple[str, ...] = ()
    ws_idle_timeout: float = 75.0
    ws_queue_size: int = 256
    pool_min_size: int = 2
    pool_max_size: int = 10
    # The longest a request waits for a working database connection (retries included)
    # before it is answered 503; also how long the pool keeps retrying a lost connection
    # before it gives up the slot and connects afresh on the next request.
    db_timeout: float = 2.0
    log_level: str = "info"
    log_format: str = "text"  # or "json": one JSON object per line
    ws_replay_limit: int = 1000  # a `since` further behind than this gets `resync`
    # Fair admission (admission.py): sockets starting their stream (position and
    # replay) at once; how long an authenticated socket waits for that before it is
    # closed 1013 with a retry hint; unauthenticated sockets one address may hold; and
    # sockets one user may hold (more are closed 4429).
    ws_max_handshakes: int = 64
    ws_admission_wait: float = 3.0  # under the web client's 4 s connect timeout
    ws_admission_queue: int = 256  # sockets waiting for a slot; more are refused at once
    ws_max_unauthenticated_per_address: int = 1024
    ws_max_sockets_per_user: int = 32
    # On SIGTERM the sockets are closed 1012 at random moments over this many seconds,
    # each told to come back at once: the replacement process (on the same port through
    # SO_REUSEPORT) takes them at a rate it can serve (10k sockets over 20 s: 500 a
    # second, under what one process starts, docs/BENCHMARKS.md). 0: all at once.
    drain_seconds: float = 20.0
    retention_interval_hours: float = 24.0  # 0 turns the in-service retention loop off
    retention_first_delay: float = 60.0  # seconds after start before the first run
    # How often the sequencer looks for newly committed changes when it has caught up.
    sequencer_interval: float = 0.01
    # A sequencer round trip must answer within this many seconds, and the server ends a
    # sequencer session that has been silent this long: the lead moves on (see sequencer.py).
    sequencer_timeout: float = 10.0
    # Garbage collector (gc_policy.py): freeze every so many seconds (0 leaves
    # CPython's defaults), and a full pass over the frozen at least every so many.
    gc_freeze_interval: float = 0.5  # a connect wave freezes its sockets within 0.5 s
    gc_full_interval: float = 0.0  # never: a closed socket leaves no cyclic garbage
    # The LISTEN connection, when it has heard nothing for this long, runs a probe that
    # must answer within listener_probe_timeout, or it reconnects (and catches up).
    listener_probe_interval: float = 10.0
    listener_probe_timeout: float = 5.0
    # Seconds an event stream may be idle before it sends a heartbeat comment: below the
    # idle timeouts of common proxies and load balancers (often 30 or 60 s).
    sse_heartbeat_interval: float = 20.0
    # Email digests (digests.py, digest_worker.py): the worker runs when both the SMTP
    # server and the site's public base URL (for the links) are set.
    smtp_url: str = ""  # smtp://host:port, smtp+starttls://..., smtps://user:pass@host:port
    email_from: str = "notifications@localhost"
    public_url: str = ""  # e.g. https://art.example; links in emails are absolute to it
    digest_hour: int = 8  # the local hour of day (the user's time_zone) digests go out
    digest_interval: float = 60.0  # seconds between the worker's looks for due digests
    # Web Push (push_worker.py, routes_push.py): on when a VAPID private key is set.
    vapid_private_key: str = ""  # PEM of a P-256 key (literal \\n accepted for newlines)
    vapid_subject: str = ""  # mailto:... or https://..., required with the key
    # Hosts whose push endpoints may be http and resolve to non-public addresses (tests).
    push_insecure_hosts: tuple[str, ...] = ()
    push_delay: float = 3.0  # seconds after a notification before deciding to push it
    push_ttl: int = 86400  # seconds a push service keeps an undelivered message
    max_push_subscriptions_per_user: int = 10
    # Insight (insights.py, routes_insights.py): what notifications do once delivered.
    insights_interval: float = 5.0  # seconds between reads of the replay log; 0 turns it off
    insights_settle: float = 10.0  # seconds: the newest events are left for the next read
    insights_retention_days: int = 180
    # An A/B test of the notifications' format: its name and its variants, comma-separated
    # (the first is the control); each user is in one, the same every time.
    experiment: str = ""
    experiment_variants: tuple[str, ...] = ()
    ops_token: str = ""  # the operators' bearer token for /ops/insights; unset: no /ops/ at all

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable of a field: `NOTIFICATIONS_<FIELD>`, except the
        database URL, which is the conventional DATABASE_URL."""
        return "DATABASE_URL" if field == "database_url" else f"NOTIFICATIONS_{field.upper()}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """The settings the environment gives; each field's variable comes from its name
        (`env_name`), and an empty variable counts as unset."""
        env = dict(os.environ if env is None else env)
        given: dict[str, object] = {}
        for field in msgspec.structs.fields(cls):
            value = env.get(cls.env_name(field.name), "")
            if field.name in ("allowed_origins", "push_insecure_hosts", "experiment_variants"):
                origins = tuple(o.strip() for o in value.split(",") if o.strip())
                if origins:
                    given[field.name] = origins
            elif value != "":
                given[field.name] = value
        # strict=False lets "8000" decode as 8000: the environment is all strings.
        settings = msgspec.convert(given, cls, strict=False)
        if settings.jwt_user_claim not in ("user_id", "sub"):
            raise ValueError("NOTIFICATIONS_JWT_USER_CLAIM must be 'user_id' or 'sub'")
        if settings.jwt_cookie and not COOKIE_NAME.fullmatch(settings.jwt_cookie):
            raise ValueError("NOTIFICATIONS_JWT_COOKIE must be a cookie name (an HTTP token)")
        if settings.experiment_variants and not settings.experiment:
            raise ValueError("NOTIFICATIONS_EXPERIMENT_VARIANTS needs NOTIFICATIONS_EXPERIMENT (its name)")
        if len(set(settings.experiment_variants)) != len(settings.experiment_variants) or any(
                not VARIANT_NAME.fullmatch(v) for v in settings.experiment_variants):
            raise ValueError("NOTIFICATIONS_EXPERIMENT_VARIANTS must be distinct names "
                             "(letters, digits, - and _; at most 32 characters)")
        if settings.ops_token and len(settings.ops_token) < 16:
            raise ValueError("NOTIFICATIONS_OPS_TOKEN must be at least 16 characters")
        if settings.insights_retention_days < 1:
            raise ValueError("NOTIFICATIONS_INSIGHTS_RETENTION_DAYS must be positive")
        if not 0 <= settings.digest_hour <= 23:
            raise ValueError("NOTIFICATIONS_DIGEST_HOUR must be an hour from 0 to 23")
        if settings.smtp_url and settings.smtp_url.split("://", 1)[0] not in SMTP_SCHEMES:
            raise ValueError("NOTIFICATIONS_SMTP_URL must start smtp://, smtp+starttls:// "
                             "or smtps://")
        if settings.public_url and not settings.public_url.startswith(("https://", "http://")):
            raise ValueError("NOTIFICATIONS_PUBLIC_URL must be an http(s) URL")
        if settings.vapid_private_key:
            if "-----BEGIN" not in settings.vapid_private_key:
                raise ValueError("NOTIFICATIONS_VAPID_PRIVATE_KEY must be a PEM private key")
            settings = msgspec.structs.replace(
                settings, vapid_private_key=settings.vapid_private_key.replace("\\n", "\n"))
            if not settings.vapid_subject:
                raise ValueError("NOTIFICATIONS_VAPID_SUBJECT is required with a VAPID key")
        if settings.vapid_subject and not (
                settings.vapid_subject.startswith("mailto:") and "@" in settings.vapid_subject
                or settings.vapid_subject.startswith("https://") and len(settings.vapid_subject) > 8):
            raise ValueError("NOTIFICATIONS_VAPID_SUBJECT must be a mailto: or https: URL")
        if settings.push_delay < 0 or settings.push_ttl < 0 or settings.max_push_subscriptions_per_user < 1:
            raise ValueError("push settings must not be negative (and the cap at least 1)")
        return settings
