"""Web Push with no internet: a fake push service and a fake browser subscription.

The FAKE PUSH SERVICE listens on 127.0.0.2 (loopback, but not 127.0.0.1, which the
service's SSRF guard must keep refusing; list it in NOTIFICATIONS_PUSH_INSECURE_HOSTS),
records every POST and answers each endpoint from a script (201 by default). The FAKE
BROWSER holds a subscription's own P-256 key pair and auth secret, and opens a received
push as a push service and a browser would: it checks the VAPID header (ES256 signature,
aud, exp, sub), the encoding, TTL and Topic, and decrypts the aes128gcm body."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid02

FAKE_HOST = "127.0.0.2"
SUBJECT = "mailto:push-tests@art.example"


def vapid_private_pem() -> str:
    """A fresh VAPID key pair's private half, as NOTIFICATIONS_VAPID_PRIVATE_KEY takes it."""
    vapid = Vapid02()
    vapid.generate_keys()
    return str(vapid.private_pem().decode())


def push_env(vapid_pem: str, *, delay: float = 1.0, cap: int = 10) -> dict[str, str]:
    """The service's environment for Web Push to the fake push service."""
    return {"NOTIFICATIONS_VAPID_PRIVATE_KEY": vapid_pem, "NOTIFICATIONS_VAPID_SUBJECT": SUBJECT,
            "NOTIFICATIONS_PUSH_INSECURE_HOSTS": FAKE_HOST, "NOTIFICATIONS_PUSH_DELAY": str(delay),
            "NOTIFICATIONS_MAX_PUSH_SUBSCRIPTIONS_PER_USER": str(cap)}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class FakePushService:
    """Records every POST; answers each path from its script (default 201)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: dict[str, deque[tuple[int, dict[str, str]]]] = defaultdict(deque)
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    outer.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                   body, time.monotonic()))
                    queue = outer.script[self.path]
                    status, headers = queue.popleft() if queue else (201, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((FAKE_HOST, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def endpoint(self) -> str:
        return f"http://{FAKE_HOST}:{self.port}/push/{uuid.uuid4().hex}"

    def to(self, endpoint: str) -> list[Received]:
        path = "/" + endpoint.split("/", 3)[3]
        with self.lock:
            return [r for r in self.received if r.path == path]


class FakeBrowser:
    """A browser's push subscription: its own P-256 key pair and 16-byte auth secret."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    def to_json(self) -> dict[str, Any]:
        point = self.key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64(point), "auth": b64(self.auth)}}

    def open(self, received: Received, application_server_key: str) -> dict[str, Any]:
        """Check the request as a push service and a browser would, and decrypt it."""
        h = received.headers
        assert h["content-encoding"] == "aes128gcm"
        assert h["ttl"] == "86400"
        assert h["urgency"] == "normal"
        topic = h["topic"]
        assert len(topic) <= 32 and all(c.isalnum() or c in "-_" for c in topic)
        scheme, _, params = h["authorization"].partition(" ")
        assert scheme == "vapid"
        fields = dict(p.strip().split("=", 1) for p in params.split(","))
        assert fields["k"] == application_server_key
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(fields["k"]))
        origin = f"http://{FAKE_HOST}:{self.endpoint.split(':')[2].split('/')[0]}"
        claims = jwt.decode(fields["t"], public, algorithms=["ES256"], audience=origin)
        assert claims["sub"] == SUBJECT
        assert time.time() < claims["exp"] <= time.time() + 24 * 3600
        plain = http_ece.decrypt(received.body, private_key=self.key, auth_secret=self.auth,
                                 version="aes128gcm")
        message: dict[str, Any] = json.loads(plain)
        return message
