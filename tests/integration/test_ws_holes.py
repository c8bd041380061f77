"""A hole in the replay log cannot stall anything: the socket is told to resync.

Retention deletes each user's log as a prefix by position, so no hole should
ever exist; this test makes one by hand (a DBA's DELETE) to prove the
delivery loop still makes progress: the stalled socket gets `resync`, later
changes reach it live, and another user's socket on the same process never
stops receiving.
"""

from __future__ import annotations

from typing import Any

import psycopg

from devkit.hostdata import add_post, react, wait_until_sequenced
from devkit.scrape import metric
from devkit.servers import ServiceProcess
from devkit.tokens import make_token
from tests.integration.service_fixtures import db, new_user, service, shared_database_url
from tests.integration.ws_client import connect, recv_json

__all__ = ["db", "service", "shared_database_url"]
LATER_CHANGES = 600  # more than one page (500) of the delivery loop


def stalled_resyncs(service: ServiceProcess) -> float:
    return metric(service.base_url, "notifications_ws_stalled_resyncs_total")


async def test_a_hole_in_the_log_is_a_resync_never_a_stall(service: ServiceProcess,
                                                          db: psycopg.Connection[Any]) -> None:
    """A socket resuming before a hole, with more than a page of changes after it, gets
    `resync` and then live changes; another user's live socket keeps receiving."""
    owner, other, actor = new_user(db), new_user(db), new_user(db)
    post, other_post = add_post(db, owner), add_post(db, other)
    react(db, post, actor, "a")
    react(db, post, actor, "b")
    for _ in range(LATER_CHANGES):
        react(db, post, actor, "c")
    wait_until_sequenced(db)
    db.execute("DELETE FROM notification_events WHERE user_id = %s AND seq = 2", (owner,))
    before = stalled_resyncs(service)

    async with connect(f"{service.ws_url}?token={make_token(other, service.secret)}") as bystander:
        await recv_json(bystander)
        async with connect(f"{service.ws_url}?token={make_token(owner, service.secret)}"
                           "&since=1") as ws:
            hello = await recv_json(ws)
            assert hello["position"] == LATER_CHANGES + 2
            positions: list[int] = []
            resyncs: list[dict[str, Any]] = []
            while not positions or positions[-1] < hello["position"]:
                message = await recv_json(ws, timeout=10)
                if message["type"] == "resync":
                    resyncs.append(message)
                    positions.append(message["position"])
                else:
                    positions.append(message["position"])
            assert resyncs, "the socket behind the hole was told to resync"
            assert positions == sorted(positions) and len(set(positions)) == len(positions)
            react(db, post, actor, "live")
            live = await recv_json(ws, timeout=10)
            assert (live["type"], live["position"]) == ("notification", hello["position"] + 1)
        react(db, other_post, actor, "still here")
        seen = await recv_json(bystander, timeout=10)
        assert seen["type"] == "notification"
    assert stalled_resyncs(service) > before
