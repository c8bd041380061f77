"""WebSockets: 10,000 authenticated sockets on ONE service process, memory
per connection, connect time, and end-to-end delivery latency from the
host's INSERT commit to the client's receipt at 50 and 500 notifications/s.
`--size 20k`: 20,000 sockets on `serve --workers 2`.

Clients run in separate processes (4 × 2,500 sockets at full size), each
socket one user, authenticated with a signed token, pinging every 25 s as
the browser client does. A writer commits host `comments` INSERTs at a fixed
rate, each for a random connected user, and records the moment just before
it sent each INSERT (autocommit: the INSERT and its COMMIT in one round
trip); the clients record when the matching notification arrived (both on
CLOCK_MONOTONIC, one clock for all processes), so a notification can never
seem to arrive before its commit. Every committed comment must arrive
exactly once.

    .venv/bin/python -m bench.ws --size full
"""

from __future__ import annotations

import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bench.common import (
    MachineLoad,
    Report,
    bench_database,
    latency_summary,
    parse_args,
    phase,
)
from bench.ws_fleet import Commit, Fleet, Writer, seed
from devkit.servers import ServiceProcess


@dataclass(frozen=True)
class WsSize:
    users: int
    processes: int
    connect_parallel: int  # connects in flight per client process
    rates: tuple[tuple[float, float], ...]  # (notifications/s, seconds)
    workers: int = 1  # `serve --workers`


SIZES = {
    "smoke": WsSize(users=200, processes=2, connect_parallel=8,
                    rates=((50.0, 2.0), (200.0, 2.0))),
    "full": WsSize(users=10_000, processes=4, connect_parallel=8,
                   rates=((50.0, 20.0), (500.0, 20.0), (2000.0, 20.0))),
    # Issue 11: 20,000 sockets on one machine with `--workers 2` (a process may hold
    # 20,000 open files here, so one process could not).
    "20k": WsSize(users=20_000, processes=4, connect_parallel=8,
                  rates=((50.0, 20.0), (500.0, 20.0)), workers=2),
}


@dataclass
class Delivery:
    rate: float
    seconds: float
    commits: list[Commit]
    latencies_s: list[float]
    lost: list[str]
    misrouted: int
    writer_errors: int
    late_commits: int  # COMMIT returned > 50 ms after it was due: the writer fell behind
    service_cpu: float  # share of one core
    timeline: list[tuple[float, float]]  # (seconds since start, latency)
    server_lag_mean: float  # the service's own view: created_at → queued for the socket

    def summary(self) -> dict[str, Any]:
        return {"rate": self.rate, "seconds": self.seconds, "committed": len(self.commits),
                "achieved_rate": round(len(self.commits) / self.seconds, 1),
                "received": len(self.latencies_s), "lost": len(self.lost),
                "misrouted": self.misrouted, "writer_errors": self.writer_errors,
                "late_commits": self.late_commits,
                "service_cpu_share": round(self.service_cpu, 3),
                "server_lag_mean_ms": round(self.server_lag_mean * 1000, 2),
                **latency_summary(self.latencies_s)}


def wait_for_receipts(fleet: Fleet, expected: int, before: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, applied = fleet.status()
        if applied - before >= expected:
            return
        time.sleep(0.1)


def gc_pauses(service: ServiceProcess) -> tuple[float, float, float]:
    """(longest pause s, collections, collections over 50 ms) from the service's GC timer."""
    with urllib.request.urlopen(service.base_url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    values = {(s.name, s.labels.get("le", "")): s.value
              for family in text_string_to_metric_families(text) for s in family.samples
              if family.name.startswith("notifications_gc_")}
    count = values.get(("notifications_gc_pause_seconds_count", ""), 0.0)
    return (values.get(("notifications_gc_longest_pause_seconds", ""), 0.0), count,
            count - values.get(("notifications_gc_pause_seconds_bucket", "0.05"), 0.0))


def server_lag(service: ServiceProcess) -> tuple[float, float]:
    """(sum, count) of the service's own delivery-lag histogram: from the
    notification's created_at to the moment it was queued for the socket."""
    with urllib.request.urlopen(service.base_url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    values = {s.name: s.value for family in text_string_to_metric_families(text)
              if family.name == "notifications_delivery_lag_seconds" for s in family.samples}
    return (values.get("notifications_delivery_lag_seconds_sum", 0.0),
            values.get("notifications_delivery_lag_seconds_count", 0.0))


def measure_delivery(url: str, fleet: Fleet, service: ServiceProcess, users: int, rate: float,
                     seconds: float) -> Delivery:
    _, applied_before = fleet.status()
    lag_before = server_lag(service)
    fleet.forget()
    mark = time.monotonic()
    cpu_before = service.cpu_seconds()
    writer = Writer(url, users, connections=4 if rate <= 100 else 8)
    took = writer.run(rate, seconds, label=f"writing at {rate:g}/s")
    cpu = service.cpu_seconds() - cpu_before
    wait_for_receipts(fleet, len(writer.commits), applied_before, timeout=15.0)
    time.sleep(0.5)
    receipts = fleet.report(since=mark)["receipts"]
    latencies: list[float] = []
    lost: list[str] = []
    misrouted = 0
    timeline: list[tuple[float, float]] = []
    for commit in writer.commits:
        receipt = receipts.get(commit.comment_id)
        if receipt is None:
            lost.append(commit.comment_id)
            continue
        user_id, received = receipt
        if int(user_id) != commit.recipient:
            misrouted += 1
        latency = received - commit.commit_sent
        latencies.append(latency)
        timeline.append((commit.commit_sent - mark, latency))
    late = sum(1 for c in writer.commits if c.committed - c.due > 0.05)
    lag_after = server_lag(service)
    lag_count = lag_after[1] - lag_before[1]
    server_mean = (lag_after[0] - lag_before[0]) / lag_count if lag_count else float("nan")
    return Delivery(rate, took, writer.commits, latencies, lost, misrouted, writer.errors, late,
                    cpu / took if took else 0.0, timeline, server_mean)


def rss_per_connection_without_deflate(url: str, size: WsSize, log: Path) -> float:
    """The same sockets, on a fresh process, with permessage-deflate not negotiated."""
    service = ServiceProcess(url, log, log_level="warning")
    service.start()
    fleet: Fleet | None = None
    try:
        time.sleep(1.0)
        before = service.rss_bytes()
        fleet = Fleet(service.ws_url, size.users, size.processes, reconnect=False,
                      connect_parallel=size.connect_parallel, deflate=False)
        fleet.connect()
        fleet.wait_connected(timeout=600, label="connecting without permessage-deflate",
                             settle=20.0)
        time.sleep(3.0)
        connected, _ = fleet.status()
        return (service.rss_bytes() - before) / max(connected, 1)
    finally:
        if fleet is not None:
            fleet.close()
        service.stop()


def run(size_name: str, out_dir: Path, *, database_url: str | None = None) -> dict[str, Any]:
    size = SIZES[size_name]
    processes = "one process" if size.workers == 1 else f"{size.workers} worker processes"
    report = Report("ws", f"WebSockets: {size.users:,} sockets on {processes}, "
                    "delivery latency", size_name)
    deliveries: list[Delivery] = []
    with bench_database("ws", database_url=database_url) as db, \
            tempfile.TemporaryDirectory(prefix="bench-ws-") as tmp:
        report.meta["postgres"] = db.server_settings()
        load = MachineLoad(db)
        phase(f"seeding {size.users:,} users with one post each")
        seed(db.url, size.users)
        service = ServiceProcess(db.url, Path(tmp) / "service.log", workers=size.workers,
                                 log_level="warning")
        phase(f"starting the service ({processes})")
        service.start()
        fleet: Fleet | None = None
        try:
            time.sleep(1.0)
            rss_before = service.rss_bytes()
            fds_before = service.open_files()
            phase(f"opening {size.users:,} sockets from {size.processes} client processes")
            fleet = Fleet(service.ws_url, size.users, size.processes, reconnect=True,
                          connect_parallel=size.connect_parallel)
            fleet.connect()
            try:
                connect_seconds = fleet.wait_connected(timeout=300)
            except TimeoutError as exc:
                raise TimeoutError(f"{exc}\nservice log:\n{service.log_tail()}") from None
            fleet.freeze()
            time.sleep(3.0)  # let allocations settle
            rss_after = service.rss_bytes()
            fds_after = service.open_files()
            connected_report = fleet.report()
            for rate, seconds in size.rates:
                phase(f"delivery at {rate:g} notifications/s for {seconds:g} s, "
                      f"{size.users:,} sockets open")
                deliveries.append(measure_delivery(db.url, fleet, service, size.users, rate,
                                                   seconds))
            still_connected, _ = fleet.status()
            final = fleet.report()
            rss_end = service.rss_bytes()
            longest_gc, collections, over_50ms = gc_pauses(service)
        finally:
            if fleet is not None:
                fleet.close()
            service.stop()
        per_connection_plain = float("nan")
        if size.workers == 1:  # one process could not hold the 20k size's sockets
            phase("memory again, on a fresh process, with permessage-deflate off")
            per_connection_plain = rss_per_connection_without_deflate(
                db.url, size, Path(tmp) / "service-plain.log")
        report.meta["machine_load"] = load.finish()

    counters = final["counters"]
    lost = sum(len(d.lost) for d in deliveries)
    duplicates = int(counters.get("duplicates", 0))
    per_connection = (rss_after - rss_before) / size.users
    connect = latency_summary(connected_report["connect_times"])
    report.data.update({
        "users": size.users, "connected": connected_report["connected"], "lost": lost,
        "duplicates": duplicates,
        "rss_before": rss_before, "rss_after": rss_after, "rss_end": rss_end,
        "rss_per_connection": per_connection, "fds_before": fds_before,
        "rss_per_connection_without_deflate": per_connection_plain,
        "fds_after": fds_after, "connect": connect, "connect_seconds": connect_seconds,
        "deliveries": [d.summary() for d in deliveries], "counters": counters,
        "latencies_ms": {f"{d.rate:g}": [round(v * 1000, 3) for v in d.latencies_s]
                         for d in deliveries},
        "gc_longest_pause_s": longest_gc, "gc_collections": collections,
        "gc_over_50ms": over_50ms, "still_connected": still_connected, "lost_ids": [i for d in deliveries
                                                         for i in d.lost][:50],
    })
    report.table(f"Connections held by {processes}", ["what", "value"], [
        ["sockets open (one user each)", f"{connected_report['connected']:,} of {size.users:,}"],
        ["client processes", size.processes],
        ["time to open them all", f"{connect_seconds:.1f} s "
         f"({size.users / connect_seconds:,.0f}/s, {size.connect_parallel} in flight per "
         "client process)"],
        ["connect time p50 / p99 / max (TCP + upgrade + auth + hello)",
         f"{connect['p50_ms']:.1f} / {connect['p99_ms']:.1f} / {connect['max_ms']:.1f} ms"],
        ["service RSS before / after connecting",
         f"{rss_before / 2**20:,.1f} / {rss_after / 2**20:,.1f} MiB"],
        ["service RSS per connection (permessage-deflate negotiated, as with browsers)",
         f"{per_connection / 1024:,.1f} KiB"],
        ["service RSS per connection, permessage-deflate not negotiated (fresh process)",
         f"{per_connection_plain / 1024:,.1f} KiB"],
        ["service RSS at the end", f"{rss_end / 2**20:,.1f} MiB"],
        ["garbage collections: longest pause / over 50 ms / all",
         f"{longest_gc * 1000:,.1f} ms / {over_50ms:,.0f} / {collections:,.0f}"],
        ["service open files before / after", f"{fds_before:,} / {fds_after:,}"],
        ["sockets still open at the end", f"{still_connected:,}"],
        ["closes seen by clients (code: count)",
         ", ".join(f"{k}: {v}" for k, v in counters.get("closes", {}).items()) or "none"],
    ])
    rows = []
    for d in deliveries:
        s = d.summary()
        rows.append([f"{d.rate:g}/s", s["committed"], s["achieved_rate"], s["received"],
                     s["p50_ms"], s["p90_ms"], s["p99_ms"], s["max_ms"], s["mean_ms"],
                     s["server_lag_mean_ms"], s["lost"], s["misrouted"],
                     f"{d.service_cpu:.0%}"])
    report.table(f"Delivery, host INSERT commit → client receipt, {size.users:,} sockets open",
                 ["rate", "committed", "achieved /s", "received", "p50 ms", "p90 ms", "p99 ms",
                  "max ms", "mean ms", "server-side mean ms", "lost", "misrouted",
                  "service CPU"], rows,
                 note="Latency runs from the moment just before the writer sent the INSERT (and "
                      "its COMMIT, in one round trip) to the moment the client process parsed "
                      "the message (it cannot be negative). "
                      "server-side mean = the service's own delivery-lag metric (the event's "
                      "created_at, the sequencer's transaction start, to queued for the "
                      "socket). service CPU is the share of one core the service process used "
                      "meanwhile.")
    report.table("Integrity over the whole run", ["what", "count"], [
        ["notifications applied by clients", counters.get("notifications", 0)],
        ["lost (committed, never received)", lost],
        ["duplicated (same notification applied twice on a socket)", duplicates],
        ["stale (position already applied, dropped)", counters.get("stale", 0)],
        ["position gaps", counters.get("gaps", 0)],
        ["connect failures", counters.get("connect_failures", 0)],
        ["receipts timed before their INSERT was sent (a clock error; kept in the percentiles)",
         sum(1 for d in deliveries for x in d.latencies_s if x < 0)],
    ])
    full = size_name != "smoke"
    report.target("memory per connection", "≤ 25 KB of server RSS at 10k",
                  f"{per_connection / 1000:.1f} KB ({per_connection / 1024:.1f} KiB)",
                  per_connection <= 25_000 if full else None)
    for rate, limit_ms in ((500.0, 50.0), (2000.0, 100.0)):
        delivery = next((d for d in deliveries if d.rate == rate), None)
        if delivery is None:
            continue
        lat = latency_summary(delivery.latencies_s)
        report.target(f"delivery at {rate:g}/s, INSERT commit → client",
                      f"p99 ≤ {limit_ms:g} ms", f"p99 {lat['p99_ms']:.1f} ms, "
                      f"max {lat['max_ms']:.1f} ms (achieved {delivery.summary()['achieved_rate']}/s)",
                      lat["p99_ms"] <= limit_ms if full else None)
    report.target("messages lost or duplicated", "zero", f"{lost} lost, {duplicates} duplicated",
                  lost == 0 and duplicates == 0)
    report.target(f"sockets held by {processes}", f"{size.users:,}",
                  f"{connected_report['connected']:,}",
                  connected_report["connected"] == size.users)
    report.note("Clients: bench/lean_ws.py, one socket per user, the token in the first "
                "message (as the web client), `since` on reconnect, permessage-deflate offered "
                "(as browsers do), `ping` every 25 s.")
    report.note("Every notification comes from a real host INSERT into `comments`, committed "
                "with fsync on; its trigger writes the row and a change row; the service's "
                "sequencer (polling every 10 ms) gives it its position, appends the event and "
                "NOTIFYs once per batch; the one LISTEN connection wakes, reads the events and "
                "pushes to the socket. Latency is from just before the writer sends the INSERT to "
                "the client receiving the message, so it includes the commit's own WAL flush "
                "and the sequencer's wait.")
    _plot(report, deliveries, connected_report["connect_times"], out_dir)
    report.write(out_dir)
    return {"report": report, "deliveries": deliveries, "lost": lost, "duplicates": duplicates,
            "connected": connected_report["connected"], "per_connection": per_connection,
            "counters": counters}


def _plot(report: Report, deliveries: list[Delivery], connect_times: list[float],
          out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    for d in deliveries:
        values = sorted(v * 1000 for v in d.latencies_s)
        if values:
            ys = [i / len(values) for i in range(1, len(values) + 1)]
            axes[0].plot(values, ys, label=f"{d.rate:g}/s")
    axes[0].axvline(50, color="red", linestyle="dashed", label="50 ms target (p99)")
    axes[0].axhline(0.99, color="grey", linestyle="dotted")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("INSERT commit → client receipt (ms, log)")
    axes[0].set_ylabel("share of notifications")
    axes[0].set_title("delivery latency, CDF")
    axes[0].legend(fontsize=8)
    for d in deliveries:
        if d.timeline:
            axes[1].scatter([t for t, _ in d.timeline], [lat * 1000 for _, lat in d.timeline],
                            s=2, label=f"{d.rate:g}/s")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("seconds into the phase")
    axes[1].set_ylabel("latency ms (log)")
    axes[1].set_title("latency over time")
    axes[1].legend(fontsize=8, markerscale=4)
    axes[2].hist([t * 1000 for t in connect_times], bins=50)
    axes[2].set_xlabel("connect + auth + hello (ms)")
    axes[2].set_ylabel("sockets")
    axes[2].set_title(f"connect time, {len(connect_times):,} sockets")
    fig.suptitle("WebSockets on one service process (2 cores shared with PostgreSQL, the "
                 "writer and the client processes)")
    fig.tight_layout()
    fig.savefig(report.plot_path(out_dir, "delivery"), dpi=110)
    plt.close(fig)


def main() -> None:
    args = parse_args(__doc__ or "", sizes=tuple(SIZES))
    run(args.size, args.out, database_url=args.database_url)


if __name__ == "__main__":
    main()
