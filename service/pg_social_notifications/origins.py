"""Which `Origin`s the service trusts: its own, and those of NOTIFICATIONS_ALLOWED_ORIGINS.

Its own origin is the request's scheme and `Host` header, serialised as a
browser serialises an Origin (`http://127.0.0.1:8000`; `ws`/`wss` count as
`http`/`https`; a default port is left out). A page cannot choose the `Host`
its browser sends, so a page on another site never matches it. Behind a proxy
that terminates TLS or rewrites `Host`, the site's origin is not the one the
service sees: list it (docs/API.md, "Authentication").
"""

from __future__ import annotations

from litestar.types import Scope

_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def header(scope: Scope, name: bytes, separator: str = ", ") -> str | None:
    """A request header read from the raw scope, every value joined, or None.

    Not Litestar's parsed copies (`request.headers`): they are cached in the scope, and
    a socket would keep them for its whole life, 2 KB each at 10k sockets."""
    values = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == name]
    return separator.join(values) if values else None


def own_origin(scope: Scope) -> str | None:
    """The origin a page served by this service has, as seen in this request."""
    scheme = _SCHEMES.get(scope.get("scheme", "http"))
    host = header(scope, b"host")
    if scheme is None or not host:
        return None
    host = host.strip().lower()
    host = host.removesuffix(_DEFAULT_PORTS[scheme])
    return f"{scheme}://{host}"


def trusted(scope: Scope, origin: str | None, allowed: tuple[str, ...]) -> bool:
    """The request's `Origin` is the service's own or a listed one (a missing or `null`
    Origin is neither; two Origin headers, joined, match nothing)."""
    return origin is not None and (origin in allowed or origin == own_origin(scope))


def request_origin(scope: Scope) -> str | None:
    return header(scope, b"origin")
