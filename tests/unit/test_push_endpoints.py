"""The SSRF guard's classifier: only global unicast addresses, only https, no userinfo."""

from __future__ import annotations

import asyncio

import pytest

from pg_social_notifications.push_endpoints import (
    EndpointRefused,
    check_endpoint,
    public_address,
    split_endpoint,
)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "224.0.0.1", "239.255.255.250", "240.0.0.1", "0.0.0.0", "255.255.255.255", "::1", "::",
    "fc00::1", "fd12:3456::1", "fe80::1%eth0", "ff02::1", "::ffff:127.0.0.1",
    "::ffff:169.254.169.254", "64:ff9b::a00:1", "2002:7f00:1::", "not an address",
])
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not public_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "142.250.74.110", "2606:4700:4700::1111",
                                     "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert public_address(address)


@pytest.mark.parametrize("url", [
    "http://push.example/x", "ftp://push.example/x", "https://user:pw@push.example/x",
    "https://user@push.example/x", "https:///x", "https://push.example:99999/x",
    "https://push.example/" + "a" * 2048, "https://push.example/a b", "https://püsh.example/",
])
def test_malformed_or_insecure_urls_are_refused(url: str) -> None:
    with pytest.raises(EndpointRefused):
        split_endpoint(url, ())


def test_listed_hosts_may_be_http() -> None:
    assert split_endpoint("http://127.0.0.1:8123/p", ("127.0.0.1",)) == ("127.0.0.1", 8123, True)
    assert split_endpoint("https://fcm.googleapis.com/fcm/send/x", ()) == ("fcm.googleapis.com", 443, False)


@pytest.mark.parametrize("url", ["https://127.0.0.1/p", "https://10.0.0.1/", "https://169.254.169.254/",
                                 "https://localhost/p", "https://[::1]/p"])
def test_endpoints_resolving_to_private_addresses_are_refused(url: str) -> None:
    with pytest.raises(EndpointRefused):
        asyncio.run(check_endpoint(url, ()))


def test_a_listed_host_is_not_resolved_or_checked() -> None:
    asyncio.run(check_endpoint("http://localhost:1/p", ("localhost",)))
