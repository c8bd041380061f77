"""What the kernel says of a connection before the process reads it (ws_protocol.tcp_info)."""

from __future__ import annotations

import asyncio
import socket
import sys
import time

import pytest

from pg_social_notifications.ws_protocol import TCP_CLOSE_WAIT, tcp_info

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="TCP_INFO is Linux's")


def transport(sock: socket.socket) -> asyncio.BaseTransport:
    return asyncio.BaseTransport(extra={"socket": sock})


def test_the_wait_of_a_request_and_a_client_that_left() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        client.sendall(b"GET / HTTP/1.1\r\n\r\n")
        time.sleep(0.3)  # the request sits in the kernel, not yet accepted
        conn, _ = server.accept()
        with conn:
            info = tcp_info(transport(conn))
            assert info is not None
            state, waited = info
            assert state != TCP_CLOSE_WAIT and 0.25 <= waited < 2.0, info
            client.close()  # the client gives up: its FIN arrives
            time.sleep(0.05)
            info = tcp_info(transport(conn))
            assert info is not None and info[0] == TCP_CLOSE_WAIT, info
