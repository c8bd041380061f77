"""Pure pieces of the service: cursors, WebSocket messages, socket queues, log scrubbing, metrics."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import stat
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.openmetrics.parser import text_fd_to_metric_families

from devkit.scrape import samples
from pg_social_notifications.close_codes import CLOSE_TOO_SLOW
from pg_social_notifications.cursor import CursorError, decode_cursor, encode_cursor
from pg_social_notifications.fanout import Subscriber
from pg_social_notifications.logging_setup import ScrubSecrets, scrub
from pg_social_notifications.metrics import MULTIPROC_ENV, Metrics, multiprocess_directory
from pg_social_notifications.schemas import Notification
from pg_social_notifications.ws_messages import CLIENT_DECODER, Auth, Ping, message_for_event


def sample(nid: uuid.UUID) -> Notification:
    return Notification(
        id=nid, user_id=1, seq=1, notification_type="reaction", content_type="post", content_id=1,
        content_title="t", content_url=None, actor_id=2, actor_handle="bob",
        actor_avatar_url=None, emoji="🔥", comment_id=None, comment_preview=None,
        is_read=False, read_at=None, created_at=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("seq", [1, 42, 2**63 - 1])
def test_cursor_roundtrip(seq: int) -> None:
    """A cursor decodes to the seq it was made from, and is URL-safe."""
    cursor = encode_cursor(seq)
    assert decode_cursor(cursor) == seq
    assert all(c.isalnum() or c in "-_" for c in cursor)


@pytest.mark.parametrize("cursor", [
    "", "!!!", "djE6", "djE6MA", "djE6MDE", "djI6NQ", "djE6LTE", "djE6OTIyMzM3MjAzNjg1NDc3NTgwOA",
    "x" * 65, "djE6NSA", "\u00e9\u00e9",
])
def test_malformed_cursors_raise(cursor: str) -> None:
    """Anything not made by encode_cursor (wrong version, sign, zero, overflow) is refused."""
    with pytest.raises(CursorError):
        decode_cursor(cursor)


def test_messages_for_events() -> None:
    """created/updated carry rows, and are skipped when the rows are gone; others carry ids."""
    a, b = uuid.uuid4(), uuid.uuid4()
    rows = {a: sample(a)}
    created = message_for_event("created", 3, 1, [a], rows)
    assert msgspec.to_builtins(created)["type"] == "notification"
    assert message_for_event("created", 3, 1, [b], rows) is None
    updated = msgspec.to_builtins(message_for_event("updated", 4, 1, [a, b], rows))
    assert updated["type"] == "notification_updated" and updated["ids"] == [str(a)]
    assert updated["notification"] == updated["notifications"][0]
    assert message_for_event("updated", 4, 1, [b], rows) is None
    for kind, type_ in (("deleted", "notification_deleted"), ("read", "read"),
                        ("unread", "unread")):
        message = msgspec.to_builtins(message_for_event(kind, 5, 0, [b], {}))
        assert message == {"type": type_, "position": 5, "unread_count": 0, "ids": [str(b)]}


def test_client_message_decoding() -> None:
    """auth and ping decode; unknown types, unknown fields and negative since do not."""
    assert isinstance(CLIENT_DECODER.decode(b'{"type":"ping"}'), Ping)
    auth = CLIENT_DECODER.decode(b'{"type":"auth","token":"t","since":3}')
    assert isinstance(auth, Auth) and auth.since == 3
    for bad in (b'{"type":"subscribe"}', b'{"type":"ping","x":1}',
                b'{"type":"auth","token":"t","since":-1}', b"[]"):
        with pytest.raises(msgspec.ValidationError):
            CLIENT_DECODER.decode(bad)


class Written:
    """A transport that records what the subscriber's sender wrote, in order."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, text: str) -> None:
        await self.release.wait()
        self.texts.append(text)


def test_subscriber_never_repeats_or_goes_back() -> None:
    """A position at or below the socket's is never queued again."""
    async def scenario() -> list[str]:
        written = Written()
        sub = Subscriber(1, 5, 10, written, replaying=False)
        assert not sub.offer(5, "five")
        assert sub.offer(6, "six")
        assert not sub.offer(6, "six again")
        assert not sub.offer(7, None)  # skipped change: position moves, nothing sent
        assert sub.position == 7
        await asyncio.sleep(0.01)
        return written.texts

    assert asyncio.run(scenario()) == ["six"]


def test_subscriber_never_jumps_over_changes_it_was_not_sent() -> None:
    """A change beyond the next position is refused, so a socket that joined mid-sync keeps no gap."""
    async def scenario() -> tuple[bool, int, int]:
        sub = Subscriber(1, 5, 10, Written(), replaying=False)
        jumped = sub.offer(9, "nine")
        return jumped, sub.position, sub.queued()

    assert asyncio.run(scenario()) == (False, 5, 0)


def test_subscriber_writes_in_order_and_holds_nothing_when_idle() -> None:
    """Messages are written in the order queued, by one sender at a time; once written,
    the socket keeps no task and no queue (what 10k idle sockets cost)."""
    async def scenario() -> None:
        written = Written()
        written.release.clear()
        sub = Subscriber(1, 0, 100, written, replaying=False)
        sub.send("hello")
        for seq in range(1, 6):
            assert sub.offer(seq, str(seq))
        await asyncio.sleep(0.01)
        assert sub.queued() == 6 and written.texts == []  # the transport is blocked
        written.release.set()
        await asyncio.sleep(0.01)
        assert written.texts == ["hello", "1", "2", "3", "4", "5"]
        assert sub._sender is None and sub._pending is None
        sub.send("pong")
        await asyncio.sleep(0.01)
        assert written.texts[-1] == "pong" and sub._sender is None

    asyncio.run(scenario())


def test_subscriber_overflow_closes_4409_but_replay_may_exceed() -> None:
    """A live socket over its queue limit is closed with 4409 and wakes its server;
    during replay it is not; what was queued is dropped."""
    async def scenario() -> tuple[int | None, int | None, list[str]]:
        blocked = Written()
        blocked.release.clear()
        replaying = Subscriber(1, 0, 2, blocked)
        for seq in range(1, 6):
            replaying.offer(seq, str(seq))
        live = Subscriber(1, 0, 2, blocked, replaying=False)
        woken: list[str] = []
        live.on_close = lambda: woken.append("woken")
        for seq in range(1, 6):
            live.offer(seq, str(seq))
        assert live.queued() == 0 and woken == ["woken"]
        await live.stop_sending()
        await replaying.stop_sending()
        return replaying.close_code, live.close_code, woken

    assert asyncio.run(scenario()) == (None, CLOSE_TOO_SLOW, ["woken"])


def test_scrub_removes_query_strings_and_jwts() -> None:
    """Log text never keeps a query string or anything shaped like a JWT."""
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.c2lnbmF0dXJl"
    assert "eyJ" not in scrub(f"auth failed for {jwt_like}")
    assert scrub('"WebSocket /api/notifications/ws?token=abc&since=3"') == (
        '"WebSocket /api/notifications/ws?[redacted]"')
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s"',
                               ("127.0.0.1:1", "/ws?token=secret"), None)
    ScrubSecrets().filter(record)
    assert "secret" not in record.getMessage()


def test_metrics_render_in_prometheus_text_format() -> None:
    """Counters, gauges and the lag histogram render with HELP, TYPE and cumulative buckets,
    under the names the dashboards use, with no `pid` label and no `_created` series."""
    metrics = Metrics()
    metrics.delivery_lag.observe(0.02)
    metrics.delivery_lag.observe(3.0)
    metrics.messages_delivered.inc(2)
    body, content_type = metrics.exposition()
    assert content_type == CONTENT_TYPE_PLAIN_0_0_4
    text = body.decode()
    assert "# TYPE notifications_delivery_lag_seconds histogram" in text
    assert "# HELP notifications_ws_slow_client_closes_total Sockets closed with 4409." in text
    values = samples(text)
    assert values['notifications_delivery_lag_seconds_bucket{le="0.025"}'] == 1
    assert values['notifications_delivery_lag_seconds_bucket{le="5.0"}'] == 2
    assert values['notifications_delivery_lag_seconds_bucket{le="+Inf"}'] == 2
    assert values["notifications_delivery_lag_seconds_sum"] == 3.02
    assert values["notifications_ws_messages_delivered_total"] == 2
    assert "pid=" not in text and "_created" not in text
    names = {name for name in values if "{" not in name}
    assert {"notifications_ws_open_sockets", "notifications_listener_connected",
            "notifications_listener_reconnects_total", "notifications_ws_replays_total",
            "notifications_ws_resyncs_total", "notifications_ws_handshakes_refused_total",
            "notifications_retention_runs_total", "notifications_sequencer_leading",
            "notifications_sequencer_rows_total", "notifications_sequencer_batch_seconds_count",
            "notifications_ws_stalled_resyncs_total", "notifications_gc_full_passes_total",
            "notifications_gc_last_full_pass_seconds"} <= names


def test_metrics_of_two_apps_in_one_process_are_apart() -> None:
    """Each Metrics has its own registry: the tests build many apps in one process."""
    one, two = Metrics(), Metrics()
    one.replays.inc()
    assert one.registry.get_sample_value("notifications_ws_replays_total") == 1
    assert two.registry.get_sample_value("notifications_ws_replays_total") == 0


def test_metrics_show_every_increment_of_a_large_counter_exactly() -> None:
    """`:g` once printed 1234567 as `1.23457e+06`, hiding small increments: the parsed
    scrape must carry every unit."""
    metrics = Metrics()
    metrics.messages_delivered.inc(1234567)
    metrics.messages_delivered.inc(4)
    metrics.sequencer_rows.inc(2**40 + 1)
    metrics.gc_full_pass_seconds.set(2.5e-07)
    values = samples(metrics.exposition()[0].decode())
    assert values["notifications_ws_messages_delivered_total"] == 1234571
    assert values["notifications_sequencer_rows_total"] == 2**40 + 1
    assert values["notifications_gc_last_full_pass_seconds"] == 2.5e-07


def test_metrics_speak_openmetrics_when_asked() -> None:
    metrics = Metrics()
    metrics.resyncs.inc(3)
    body, content_type = metrics.exposition("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    text = body.decode()
    assert text.endswith("# EOF\n")
    [family] = [f for f in text_fd_to_metric_families(io.StringIO(text))
                if f.name == "notifications_ws_resyncs"]
    assert family.type == "counter"
    assert [(s.name, s.value) for s in family.samples] == [("notifications_ws_resyncs_total", 3)]


def test_multiprocess_directory_is_private_and_removed_for_workers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    with multiprocess_directory(1) as none:
        assert none is None and MULTIPROC_ENV not in os.environ
    with multiprocess_directory(2) as made:
        assert made is not None and os.environ[MULTIPROC_ENV] == made
        assert stat.S_IMODE(os.stat(made).st_mode) == 0o700
        (Path(made) / "counter_1.db").write_bytes(b"")
    assert not Path(made).exists() and MULTIPROC_ENV not in os.environ


def test_multiprocess_directory_of_the_operator_is_wiped_and_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given = tmp_path / "metrics"
    monkeypatch.setenv(MULTIPROC_ENV, str(given))
    with multiprocess_directory(1) as made:  # created when missing, honoured for one process too
        assert made == str(given) and given.is_dir()
    (given / "counter_12345.db").write_bytes(b"stale")
    (given / "README").write_text("the operator's")
    with multiprocess_directory(4) as made:
        assert made == str(given)
        assert sorted(p.name for p in given.iterdir()) == ["README"]  # last run's samples gone
    assert given.is_dir() and os.environ[MULTIPROC_ENV] == str(given)


def test_json_nesting_depth_skips_strings() -> None:
    from pg_social_notifications.request_bodies import nesting_exceeds

    assert nesting_exceeds(b"[" * 33)
    assert not nesting_exceeds(b"[" * 32 + b"]" * 32)
    assert not nesting_exceeds(b'["' + b"[" * 100 + b'"]')
    assert not nesting_exceeds(b'["\\"' + b"[" * 100 + b'"]')  # an escaped quote stays inside
    assert nesting_exceeds(b'{"a":' * 40)


def test_a_scrape_waits_out_a_worker_file_that_is_being_created(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A starting worker's file exists before its header: the scrape reads again, no 500."""
    from prometheus_client.mmap_dict import MmapedDict, mmap_key

    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    metrics = Metrics()
    starting = tmp_path / "counter_424242.db"
    starting.touch()  # created, header not yet written

    def finish() -> None:
        written = MmapedDict(str(starting))
        written.write_value(mmap_key("notifications_ws_replays", "notifications_ws_replays_total",
                                     [], [], "Replays."), 7.0, 0.0)
        written.close()

    writer = threading.Timer(0.03, finish)
    writer.start()
    try:
        body, _ = metrics.exposition()
    finally:
        writer.join()
    assert b"notifications_ws_replays_total 7.0" in body, body


def test_the_reconnect_delay_doubles_to_its_cap_with_jitter() -> None:
    """0.25 s doubling per failure, never past the cap, each drawn from its upper half."""
    from pg_social_notifications.reconnect import MAX_DELAY, reconnect_delay

    for failures, ceiling in ((1, 0.5), (2, 1.0), (3, MAX_DELAY), (50, MAX_DELAY)):
        delays = [reconnect_delay(failures) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (failures, min(delays), max(delays))
        assert max(delays) - min(delays) > ceiling / 10  # jittered, not one value
    assert reconnect_delay(50, cap=10.0) <= 10.0 and reconnect_delay(50, cap=10.0) >= 5.0
