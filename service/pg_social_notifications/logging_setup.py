"""Log configuration for the service: text or JSON lines, never a token or a query string.

Tokens may travel in the WebSocket URL (`?token=`), and uvicorn logs request
paths with their query strings, so every record passes a filter that cuts
query strings off and masks anything shaped like a JWT. At debug level the
WebSocket layer logs each handshake header as a line of its own: the value of
a `Cookie` or `Authorization` line is dropped whole, since the host's cookies
(NOTIFICATIONS_JWT_COOKIE's and its others, session ids included) need not
look like a JWT.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_QUERY = re.compile(r"\?[^\s\"']*")
# A logged header line (`< cookie: ...`, `> Set-Cookie: ...`) whose value is a credential.
_CREDENTIAL_HEADER = re.compile(
    r"\s*([<>]\s*)?(cookie|set-cookie|authorization|proxy-authorization)\s*:", re.IGNORECASE)


def scrub(text: str) -> str:
    """Drop query strings and mask JWT-shaped text."""
    return _JWT.sub("[token]", _QUERY.sub("?[redacted]", text))


class ScrubSecrets(logging.Filter):
    """Rewrites a record's message and arguments so no token, cookie or query string is logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            header = _CREDENTIAL_HEADER.match(record.getMessage())
        except (TypeError, ValueError):  # a malformed record: logging reports it itself
            header = None
        if header is not None:
            record.msg, record.args = header.group(0) + " [redacted]", ()
            return True
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(scrub(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: scrub(v) if isinstance(v, str) else v
                           for k, v in record.args.items()}
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message (and exc when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def log_config(level: str, fmt: str) -> dict[str, Any]:
    """A dictConfig for uvicorn and our loggers alike."""
    formatter: dict[str, Any] = (
        {"()": "pg_social_notifications.logging_setup.JsonFormatter"} if fmt == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"})
    handler = {"class": "logging.StreamHandler", "formatter": "main", "filters": ["scrub"],
               "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"scrub": {"()": "pg_social_notifications.logging_setup.ScrubSecrets"}},
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "root": {"handlers": ["main"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.access": {"handlers": [], "level": level.upper(), "propagate": True},
        },
    }
