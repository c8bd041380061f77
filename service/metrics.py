"""Prometheus metrics in the text exposition format, with no dependency.

Each process keeps its own numbers; with `--workers N` a scrape reaches one
worker, so every sample carries a `pid` label and the dashboards sum them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def exposition_number(value: float) -> str:
    """A sample value exactly: whole numbers in full (`:g` made 1234567 `1.23457e+06`,
    hiding small increments), others as Python's shortest round-trip repr."""
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


@dataclass
class Counter:
    name: str
    help: str
    value: float = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def render(self, labels: str) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter",
                f"{self.name}{{{labels}}} {exposition_number(self.value)}"]


@dataclass
class Gauge:
    name: str
    help: str
    value: float = 0.0

    def set(self, value: float) -> None:
        self.value = value

    def render(self, labels: str) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge",
                f"{self.name}{{{labels}}} {exposition_number(self.value)}"]


@dataclass
class Histogram:
    name: str
    help: str
    buckets: tuple[float, ...] = LAG_BUCKETS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        if not self.counts:
            self.counts = [0] * len(self.buckets)
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[index] += 1
        self.total += value
        self.count += 1

    def render(self, labels: str) -> list[str]:
        counts = self.counts or [0] * len(self.buckets)
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for bound, cumulative in zip(self.buckets, counts, strict=True):
            lines.append(f'{self.name}_bucket{{{labels},le="{bound:g}"}} {cumulative}')
        lines.append(f'{self.name}_bucket{{{labels},le="+Inf"}} {self.count}')
        lines.append(f"{self.name}_sum{{{labels}}} {exposition_number(self.total)}")
        lines.append(f"{self.name}_count{{{labels}}} {self.count}")
        return lines


@dataclass
class Metrics:
    """Everything /metrics reports for this process."""

    open_sockets: Gauge = field(default_factory=lambda: Gauge(
        "notifications_ws_open_sockets", "WebSocket connections open in this process."))
    messages_delivered: Counter = field(default_factory=lambda: Counter(
        "notifications_ws_messages_delivered_total",
        "Stream messages queued to sockets (live and replayed)."))
    delivery_lag: Histogram = field(default_factory=lambda: Histogram(
        "notifications_delivery_lag_seconds",
        "From the change's sequencing (notification_events.created_at) to the "
        "moment the message is queued to a live socket."))
    listener_reconnects: Counter = field(default_factory=lambda: Counter(
        "notifications_listener_reconnects_total",
        "LISTEN connections re-established after a failure."))
    listener_connected: Gauge = field(default_factory=lambda: Gauge(
        "notifications_listener_connected", "1 when the LISTEN connection is up."))
    replays: Counter = field(default_factory=lambda: Counter(
        "notifications_ws_replays_total", "Sockets that resumed with `since` and got a replay."))
    resyncs: Counter = field(default_factory=lambda: Counter(
        "notifications_ws_resyncs_total", "Sockets told to reload (since too old or ahead)."))
    slow_closes: Counter = field(default_factory=lambda: Counter(
        "notifications_ws_slow_client_closes_total", "Sockets closed with 4409."))
    handshakes_refused: Counter = field(default_factory=lambda: Counter(
        "notifications_ws_handshakes_refused_total",
        "Sockets closed at admission (busy, or over the per-address or per-user cap)."))
    retention_runs: Counter = field(default_factory=lambda: Counter(
        "notifications_retention_runs_total", "Retention jobs run by this process."))
    sequencer_leading: Gauge = field(default_factory=lambda: Gauge(
        "notifications_sequencer_leading", "1 while this process is the database's sequencer."))
    sequencer_rows: Counter = field(default_factory=lambda: Counter(
        "notifications_sequencer_rows_total",
        "Committed changes and host requests this process sequenced."))
    sequencer_batch_seconds: Histogram = field(default_factory=lambda: Histogram(
        "notifications_sequencer_batch_seconds", "Time of each non-empty sequencer batch."))
    stalled_resyncs: Counter = field(default_factory=lambda: Counter(
        "notifications_ws_stalled_resyncs_total",
        "Sockets told to reload because the replay log could not advance them (a hole)."))
    gc_full_passes: Counter = field(default_factory=lambda: Counter(
        "notifications_gc_full_passes_total",
        "Full garbage-collector passes over the frozen objects (NOTIFICATIONS_GC_FULL_INTERVAL)."))
    gc_full_pass_seconds: Gauge = field(default_factory=lambda: Gauge(
        "notifications_gc_last_full_pass_seconds",
        "The pause of the last full garbage-collector pass."))
    sse_open_streams: Gauge = field(default_factory=lambda: Gauge(
        "notifications_sse_open_streams",
        "Server-Sent Events streams open in this process (also in notifications_ws_open_sockets)."))

    def render(self) -> str:
        labels = f'pid="{os.getpid()}"'
        lines: list[str] = []
        for metric in (self.open_sockets, self.messages_delivered, self.delivery_lag,
                       self.listener_reconnects, self.listener_connected, self.replays,
                       self.resyncs, self.slow_closes, self.handshakes_refused,
                       self.retention_runs, self.sequencer_leading, self.sequencer_rows,
                       self.sequencer_batch_seconds, self.stalled_resyncs,
                       self.gc_full_passes, self.gc_full_pass_seconds, self.sse_open_streams):
            lines.extend(metric.render(labels))
        return "\n".join(lines) + "\n"
