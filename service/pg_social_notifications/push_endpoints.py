"""Which push endpoints the service will POST to: the SSRF guard.

A push endpoint is a URL a browser handed us, so anyone with a token can make the
service send requests to it. It must be `https`, carry no userinfo, be at most 2048
characters, and its host must resolve (every A and AAAA record) only to global
addresses: no loopback, private, link-local (the cloud metadata service at
169.254.169.254), CGNAT, multicast, reserved, unspecified, IPv6 unique-local or
link-local, nor an IPv4-mapped or NAT64-wrapped form of one of those. It is checked
when a browser subscribes and again before every send (DNS may have changed), and
sends never follow redirects (push_worker.py).

Hosts listed in NOTIFICATIONS_PUSH_INSECURE_HOSTS (tests) may be `http` and resolve
anywhere. Residual window: the address is checked, then the HTTP client resolves the
name again; a name whose records flip between the two (DNS rebinding with a TTL of
zero) could still reach a private address once. Pinning the checked address would
close it; requests offers no clean hook for that.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

MAX_ENDPOINT_LENGTH = 2048
RESOLVE_TIMEOUT = 5.0
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class EndpointRefused(ValueError):
    """The endpoint is not one the service may send to; the message says why."""


def public_address(raw: str) -> bool:
    """Whether an address (text) is a global unicast address the service may reach."""
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(raw.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
    return bool(ip.is_global and not (ip.is_multicast or ip.is_loopback or ip.is_link_local
                                      or ip.is_private or ip.is_reserved or ip.is_unspecified))


def split_endpoint(url: str, insecure_hosts: tuple[str, ...]) -> tuple[str, int, bool]:
    """(host, port, insecure) of an endpoint whose form is acceptable, or EndpointRefused.
    `insecure`: the host is listed, so its addresses are not checked."""
    if not isinstance(url, str) or len(url) > MAX_ENDPOINT_LENGTH:
        raise EndpointRefused(f"endpoint must be a URL of at most {MAX_ENDPOINT_LENGTH} characters")
    if not url.isascii() or any(c.isspace() or ord(c) < 32 for c in url):
        raise EndpointRefused("endpoint must be an ASCII URL without spaces")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise EndpointRefused("endpoint is not a valid URL") from None
    host = (parts.hostname or "").lower()
    if not host:
        raise EndpointRefused("endpoint has no host")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise EndpointRefused("endpoint must not carry a user name or password")
    insecure = host in {h.lower() for h in insecure_hosts}
    if parts.scheme == "https" or (insecure and parts.scheme == "http"):
        return host, port or (443 if parts.scheme == "https" else 80), insecure
    raise EndpointRefused("endpoint must be an https URL")


async def check_endpoint(url: str, insecure_hosts: tuple[str, ...]) -> None:
    """EndpointRefused unless `url` is acceptable and its host resolves only to public
    addresses (or is listed as insecure)."""
    host, port, insecure = split_endpoint(url, insecure_hosts)
    if insecure:
        return
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError):
        raise EndpointRefused(f"endpoint host {host!r} does not resolve") from None
    addresses = {str(info[4][0]) for info in infos}
    if not addresses:
        raise EndpointRefused(f"endpoint host {host!r} does not resolve")
    for address in sorted(addresses):
        if not public_address(address):
            raise EndpointRefused(f"endpoint host {host!r} resolves to a non-public address")
