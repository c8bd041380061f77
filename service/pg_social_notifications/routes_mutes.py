"""Mutes under /api/notifications/mutes (docs/API.md): a muted post, blog post or comment
thread notifies the caller of nothing, in any channel, until unmuted. The host-table
triggers enforce it where notifications are decided; these routes only keep the list."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import Parameter

from pg_social_notifications.auth import Caller, provide_caller
from pg_social_notifications.request_bodies import strict_body
from pg_social_notifications.schemas import MAX_MUTES, Mute, MuteList, MuteRequest
from pg_social_notifications.store import NoSuchComment, NotificationStore, TooManyMutes


class MutesController(Controller):
    path = "/api/notifications/mutes"
    dependencies = {"caller": Provide(provide_caller)}
    tags = ["mutes"]

    @get("/", summary="The caller's mutes, newest first")
    async def list_mutes(self, caller: Caller, store: NotificationStore) -> MuteList:
        return MuteList(items=await store.mutes(caller.user_id))

    @post("/", status_code=200,
          summary="Mute a post or blog post, or a comment's thread (muting again is a no-op)")
    async def mute(self, caller: Caller, store: NotificationStore,
                   request: Request[Any, Any, Any], data: MuteRequest) -> Mute:
        data = await strict_body(request, MuteRequest) or data
        try:
            return await store.mute(caller.user_id, data)
        except NoSuchComment:
            raise NotFoundException(detail="no such comment on that post or blog post") from None
        except TooManyMutes:
            raise HTTPException(status_code=409, detail=(
                f"at most {MAX_MUTES} mutes per user; unmute one first")) from None

    @delete("/{mute_id:int}", status_code=204, summary="Unmute")
    async def unmute(self, caller: Caller, store: NotificationStore,
                     mute_id: Annotated[int, Parameter(ge=1, le=2**63 - 1)]) -> None:
        if not await store.unmute(caller.user_id, mute_id):
            raise NotFoundException(detail="no such mute")
