"""Prometheus metrics through `prometheus_client`, in its multiprocess mode for `--workers`.

One process: each `Metrics` has its own `CollectorRegistry` (tests build many
apps in one process; the library's global REGISTRY would mix them).

`serve --workers N`: every worker writes its samples to memory-mapped files in
PROMETHEUS_MULTIPROC_DIR (set up by the parent, `multiprocess_directory`) and a
scrape of any worker reads them all, so `/metrics` reports the whole service:
counters and histograms summed, each gauge aggregated as its meaning asks.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
GC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
WORKERS = " With --workers N: "

# Multiprocess mode has no `_created` series; without them in one process too, both
# modes expose the same series, the ones the dashboards were built on.
disable_created_metrics()


class Metrics:
    """Everything /metrics reports: this process, or with a multiprocess directory every
    worker of this `serve`. Callers use the attributes' `.inc()`, `.set()`, `.observe()`."""

    def __init__(self) -> None:
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        self.registry = CollectorRegistry()
        if self.multiprocess_dir:
            # The samples live in the directory's files (the library chose that when it was
            # imported with the variable set); the registry only reads them back.
            MultiProcessCollector(self.registry, path=self.multiprocess_dir)
            own: CollectorRegistry | None = None
        else:
            own = self.registry

        def counter(name: str, help_: str) -> Counter:
            return Counter(name, help_, registry=own)  # the library appends `_total`

        def histogram(name: str, help_: str) -> Histogram:
            return Histogram(name, help_, buckets=LAG_BUCKETS, registry=own)

        self.open_sockets = Gauge(
            "notifications_ws_open_sockets", "WebSocket connections open in this process."
            + WORKERS + "the sum over the workers.", registry=own, multiprocess_mode="livesum")
        self.messages_delivered = counter(
            "notifications_ws_messages_delivered",
            "Stream messages queued to sockets (live and replayed).")
        self.delivery_lag = histogram(
            "notifications_delivery_lag_seconds",
            "From the change's sequencing (notification_events.created_at) to the "
            "moment the message is queued to a live socket.")
        self.listener_reconnects = counter(
            "notifications_listener_reconnects",
            "LISTEN connections re-established after a failure.")
        # Each worker has its own LISTEN connection: 0 as soon as any worker's is down.
        self.listener_connected = Gauge(
            "notifications_listener_connected", "1 when the LISTEN connection is up."
            + WORKERS + "1 when every worker's is.", registry=own, multiprocess_mode="livemin")
        self.replays = counter(
            "notifications_ws_replays", "Sockets that resumed with `since` and got a replay.")
        self.resyncs = counter(
            "notifications_ws_resyncs", "Sockets told to reload (since too old or ahead).")
        self.slow_closes = counter(
            "notifications_ws_slow_client_closes", "Sockets closed with 4409.")
        self.handshakes_refused = counter(
            "notifications_ws_handshakes_refused",
            "Sockets closed at admission (busy, or over the per-address or per-user cap).")
        self.upgrades_abandoned = counter(
            "notifications_ws_upgrades_abandoned",
            "Upgrades dropped unanswered: the client left while they waited in the kernel's "
            "accept queue.")
        self.retention_runs = counter(
            "notifications_retention_runs", "Retention jobs run by this process."
            + WORKERS + "summed over the workers.")
        # At most one process per database leads; a dead worker's 1 must not linger.
        self.sequencer_leading = Gauge(
            "notifications_sequencer_leading", "1 while this process is the database's sequencer."
            + WORKERS + "1 while one of the workers is.", registry=own,
            multiprocess_mode="livemax")
        self.sequencer_rows = counter(
            "notifications_sequencer_rows",
            "Committed changes and host requests this process sequenced."
            + WORKERS + "summed over the workers.")
        self.sequencer_batch_seconds = histogram(
            "notifications_sequencer_batch_seconds", "Time of each non-empty sequencer batch.")
        self.stalled_resyncs = counter(
            "notifications_ws_stalled_resyncs",
            "Sockets told to reload because the replay log could not advance them (a hole).")
        self.gc_full_passes = counter(
            "notifications_gc_full_passes",
            "Full garbage-collector passes over the frozen objects (NOTIFICATIONS_GC_FULL_INTERVAL).")
        # The pause that matters is the worst one a live worker's sockets sat through.
        self.gc_full_pass_seconds = Gauge(
            "notifications_gc_last_full_pass_seconds",
            "The pause of the last full garbage-collector pass."
            + WORKERS + "the longest of the workers' last passes.", registry=own,
            multiprocess_mode="livemax")

        self.gc_pauses = Histogram(
            "notifications_gc_pause_seconds",
            "The pause of each garbage collection, automatic or the policy's.",
            buckets=GC_BUCKETS, registry=own)
        self.gc_longest_pause = Gauge(
            "notifications_gc_longest_pause_seconds",
            "The longest garbage-collection pause since the process started."
            + WORKERS + "the longest of the workers'.", registry=own,
            multiprocess_mode="livemax")
        self.sse_open_streams = Gauge(
            "notifications_sse_open_streams",
            "Server-Sent Events streams open in this process (also in "
            "notifications_ws_open_sockets)." + WORKERS + "the sum over the workers.",
            registry=own, multiprocess_mode="livesum")
        self.digest_emails_sent = counter(
            "notifications_digest_emails_sent",
            "Email digests the SMTP server accepted (digest_worker.py).")
        self.digest_emails_failed = counter(
            "notifications_digest_emails_failed",
            "Email digests the SMTP server refused or could not be reached for; each is "
            "tried again at the next round.")

        # Web Push (push_worker.py): only the instance leading the push queue counts.
        self.push_sent = counter("notifications_push_sent",
                                 "Web Pushes a push service accepted (201/202).")
        self.push_failed = counter("notifications_push_failed",
                                   "Web Push attempts that were not accepted (any other answer or none).")
        self.push_retried = counter("notifications_push_retried",
                                    "Web Pushes rescheduled after a 429, a 5xx or no answer.")
        self.push_dropped = Counter(
            "notifications_push_dropped", "Queued Web Pushes not sent, by reason (retracted, "
            "preferences, snoozed, quiet_hours, socket_open, gave_up, rejected, ...).",
            ["reason"], registry=own)
        self.push_subscriptions_removed = counter(
            "notifications_push_subscriptions_removed",
            "Push subscriptions removed because the push service answered 404 or 410, or the "
            "endpoint failed the address check at send time.")

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The scrape's body and content type: the Prometheus text format, or OpenMetrics
        when the scraper's Accept header asks for it."""
        if self.multiprocess_dir:
            forget_dead_workers(self.multiprocess_dir)
        encoder, content_type = choose_encoder(accept)
        for attempt in range(SCRAPE_ATTEMPTS):
            try:
                return encoder(self.registry), content_type
            except struct.error:
                # A worker that is starting has created its file but not yet written
                # its header; the library then fails to unpack it. It is written in
                # microseconds: read again (seen in CI as a 500 on a scrape at start).
                if attempt == SCRAPE_ATTEMPTS - 1:
                    raise
                time.sleep(0.005)
        raise AssertionError("unreachable")


SCRAPE_ATTEMPTS = 20


def forget_dead_workers(path: str) -> None:
    """Drop the live gauges of workers that no longer exist (SIGKILLed, or restarted by
    uvicorn: nothing runs in the parent to tell), so their open sockets stop counting.
    Their counters stay, so the service's totals never go backwards."""
    for file in Path(path).glob("gauge_live*_*.db"):
        pid = int(file.stem.rpartition("_")[2])
        if not _alive(pid):
            # Another worker's scrape may be removing the same files right now.
            with contextlib.suppress(FileNotFoundError):
                mark_process_dead(pid, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, someone else's
    return True


@contextlib.contextmanager
def multiprocess_directory(workers: int) -> Iterator[str | None]:
    """For the parent of `serve`, before any worker starts: the directory the workers
    share their samples through. An operator's PROMETHEUS_MULTIPROC_DIR is honoured
    (created if missing, emptied of the last run's files, kept); otherwise, with several
    workers, a private temporary one is made and removed at exit. One process with no
    directory set needs none."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        # The library requires a clean directory per run: old files would add a previous
        # run's counters and dead pids' gauges to this one's.
        for old in Path(given).glob("*.db"):
            old.unlink(missing_ok=True)
        yield given
        return
    if workers <= 1:
        yield None
        return
    path = tempfile.mkdtemp(prefix="notifications-metrics-")  # mode 0700
    os.environ[MULTIPROC_ENV] = path  # inherited by the workers uvicorn spawns
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)
