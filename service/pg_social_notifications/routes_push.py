"""Web Push subscriptions under /api/notifications/push (CONTRACT.md §6, docs/API.md).

The application server key, and the browsers' PushSubscriptions of the caller: stored
after the SSRF guard (push_endpoints.py) accepted the endpoint, at most
NOTIFICATIONS_MAX_PUSH_SUBSCRIPTIONS_PER_USER per user. Without a VAPID key every
route answers 404: push is off.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

import msgspec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from litestar import Controller, Request, delete, get, post
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from py_vapid import Vapid02

from pg_social_notifications.auth import Caller, provide_caller
from pg_social_notifications.push_endpoints import MAX_ENDPOINT_LENGTH, EndpointRefused, check_endpoint
from pg_social_notifications.queries import sql
from pg_social_notifications.request_bodies import strict_body
from pg_social_notifications.settings import Settings
from pg_social_notifications.store import AConn, NotificationStore, run

B64URL = r"^[A-Za-z0-9_-]+={0,2}$"
Endpoint = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ENDPOINT_LENGTH)]


class PushKeys(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    p256dh: Annotated[str, msgspec.Meta(min_length=80, max_length=96, pattern=B64URL)]
    auth: Annotated[str, msgspec.Meta(min_length=16, max_length=32, pattern=B64URL)]


class PushSubscriptionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The browser's `PushSubscription.toJSON()`."""

    endpoint: Endpoint
    keys: PushKeys
    expirationTime: int | None = None  # noqa: N815 - the browser's name


class PushEndpoint(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    endpoint: Endpoint


class PublicKey(msgspec.Struct, kw_only=True):
    public_key: str  # the VAPID application server key: base64url, uncompressed P-256 point


class Subscribed(msgspec.Struct, kw_only=True):
    endpoint: str


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))


def application_server_key(private_pem: str) -> str:
    """The public half of the VAPID key as browsers take it (applicationServerKey)."""
    vapid = Vapid02.from_pem(private_pem.encode())
    raw = vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _push_settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    if not settings.vapid_private_key:
        raise NotFoundException(detail="Web Push is not configured on this service")
    return settings


def _check_keys(keys: PushKeys) -> None:
    try:
        p256dh, auth = b64url_decode(keys.p256dh), b64url_decode(keys.auth)
    except (binascii.Error, ValueError):
        raise ValidationException(detail="keys must be base64url") from None
    if len(p256dh) != 65 or p256dh[0] != 4:
        raise ValidationException(detail="keys.p256dh must be an uncompressed P-256 point (65 bytes)")
    if len(auth) != 16:
        raise ValidationException(detail="keys.auth must be 16 bytes")


class PushController(Controller):
    path = "/api/notifications/push"
    dependencies = {"caller": Provide(provide_caller)}
    tags = ["push"]

    @get("/public-key", summary="The VAPID application server key for PushManager.subscribe")
    async def public_key(self, request: Request[Any, Any, Any]) -> PublicKey:
        settings = _push_settings(request)
        key: str | None = getattr(request.app.state, "vapid_public_key", None)
        if key is None:
            key = application_server_key(settings.vapid_private_key)
            request.app.state.vapid_public_key = key
        return PublicKey(public_key=key)

    @post("/subscriptions", status_code=201, summary="Store the caller's browser push subscription")
    async def subscribe(self, caller: Caller, store: NotificationStore,
                        request: Request[Any, Any, Any], data: PushSubscriptionIn) -> Subscribed:
        settings = _push_settings(request)
        data = await strict_body(request, PushSubscriptionIn) or data
        _check_keys(data.keys)
        try:
            await check_endpoint(data.endpoint, settings.push_insecure_hosts)
        except EndpointRefused as exc:
            raise ValidationException(detail=str(exc)) from None

        async def work(conn: AConn) -> bool:
            cur = await conn.execute(sql("push_subscribe"), {
                "user_id": caller.user_id, "endpoint": data.endpoint, "p256dh": data.keys.p256dh,
                "auth": data.keys.auth, "cap": settings.max_push_subscriptions_per_user})
            return await cur.fetchone() is not None

        if not await run(store.pool, work):
            raise HTTPException(status_code=409, detail=(
                f"at most {settings.max_push_subscriptions_per_user} push subscriptions per user; "
                "remove one first"))
        return Subscribed(endpoint=data.endpoint)

    @delete("/subscriptions", status_code=204, summary="Remove one of the caller's push subscriptions")
    async def unsubscribe(self, caller: Caller, store: NotificationStore,
                          request: Request[Any, Any, Any], data: PushEndpoint) -> None:
        _push_settings(request)
        data = await strict_body(request, PushEndpoint) or data

        async def work(conn: AConn) -> None:
            await conn.execute(sql("push_unsubscribe"),
                               {"user_id": caller.user_id, "endpoint": data.endpoint})

        # 204 whether or not it was the caller's: another user's endpoint is left alone,
        # and the answer does not tell whether it exists.
        await run(store.pool, work)
