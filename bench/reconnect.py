"""The reconnect storm: crash the service (SIGKILL) with 10,000 clients
connected, start it again on the same port while the host keeps writing,
and measure how long until every client is back and holds every
notification committed during the gap.

The clients behave as web/notifications-client.js does: on close they wait
a full-jitter backoff (uniform in [0, min(30 s, 1 s × 1.4^attempt, the time
since the loss))) and reconnect with `since` = the last position they
applied, giving up on an attempt after 4 s without `hello`; the service
replays what they missed. The writer commits host comment INSERTs at a
steady rate from before the crash until after the new process serves again.

At full size a second storm runs with patient clients (30 s connect
timeout), to show what the service itself can absorb.

    .venv/bin/python -m bench.reconnect --size full
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    MachineLoad,
    Progress,
    Report,
    bench_database,
    latency_summary,
    parse_args,
    percentile,
    phase,
    summarize_profile,
)
from bench.ws_fleet import Commit, Fleet, Writer, seed
from devkit.servers import ServiceProcess

WEB_CLIENT_TIMEOUT = 4.0  # web/notifications-client.js connectTimeout
TARGET_SECONDS = 15.0  # issue 11: every socket back and complete
PATIENT_TIMEOUT = 30.0


@dataclass(frozen=True)
class StormSize:
    users: int
    processes: int
    rate: float
    lead_seconds: float  # writing before the restart
    timeout: float
    connect_timeouts: tuple[float, ...]


SIZES = {
    "smoke": StormSize(users=200, processes=2, rate=20.0, lead_seconds=1.0, timeout=60.0,
                       connect_timeouts=(WEB_CLIENT_TIMEOUT,)),
    "full": StormSize(users=10_000, processes=4, rate=50.0, lead_seconds=3.0, timeout=75.0,
                      connect_timeouts=(WEB_CLIENT_TIMEOUT, PATIENT_TIMEOUT)),
}


@dataclass
class Storm:
    connect_timeout: float
    users: int
    complete: bool
    stop_seconds: float
    start_seconds: float
    down_seconds: float
    commits: list[Commit]
    gap: list[Commit]
    lost: list[Commit]
    undelivered_not_back: list[Commit]
    back_times: list[float]
    gap_receipts: list[float]
    counters: dict[str, Any]
    reconnects: int
    timeline: list[tuple[float, int, int]] = field(default_factory=list)
    profile: list[tuple[str, float]] = field(default_factory=list)

    @property
    def all_back(self) -> float:
        return self.back_times[-1] if len(self.back_times) == self.users else float("nan")

    @property
    def seconds(self) -> float:
        if not self.complete:
            return float("nan")
        return max(self.all_back, self.gap_receipts[-1] if self.gap_receipts else 0.0)

    @property
    def duplicates(self) -> int:
        return int(self.counters.get("duplicates", 0))

    def summary(self) -> dict[str, Any]:
        return {
            "connect_timeout": self.connect_timeout, "complete": self.complete,
            "storm_seconds": self.seconds, "stop_seconds": self.stop_seconds,
            "start_seconds": self.start_seconds, "down_seconds": self.down_seconds,
            "all_back_seconds": self.all_back, "committed": len(self.commits),
            "gap_commits": len(self.gap), "lost": len(self.lost),
            "duplicates": self.duplicates, "not_back": self.users - len(self.back_times),
            "undelivered_not_back": len(self.undelivered_not_back),
            "reconnects": self.reconnects, "counters": self.counters,
            "back_times": latency_summary(self.back_times), "timeline": self.timeline,
            "service_profile": self.profile,
        }


def storm(url: str, size: StormSize, connect_timeout: float, workdir: Path,
          profile_path: Path) -> Storm:
    """Connect everyone, restart the service under them, wait until all are complete."""
    service = ServiceProcess(url, workdir / f"service-{connect_timeout:g}.log", log_level="warning")
    phase(f"starting the service; clients give up a connect after {connect_timeout:g} s")
    service.start()
    fleet: Fleet | None = None
    timeline: list[tuple[float, int, int]] = []
    try:
        fleet = Fleet(service.ws_url, size.users, size.processes, reconnect=True,
                      connect_parallel=8, connect_timeout=connect_timeout)
        fleet.connect()
        fleet.wait_connected(timeout=600, label="connecting before the storm")
        fleet.freeze()

        ready_at: list[float] = []
        writer = Writer(url, size.users, connections=4)
        # Write until one second after the new process serves again.
        writer_thread = threading.Thread(target=writer.run, daemon=True, kwargs={
            "rate": size.rate, "label": "writing through the restart",
            "until": lambda: bool(ready_at) and time.monotonic() > ready_at[0] + 1.0})
        writer_thread.start()
        time.sleep(size.lead_seconds)

        # A crash: the process is gone at once (its sockets see the connection drop,
        # 1006), and a supervisor starts a new one on the same port. A planned restart
        # is bench/deploy.py's subject.
        phase("crashing the service (SIGKILL, then a new process on the same port)")
        t0 = time.monotonic()
        started_kill = time.monotonic()
        service.kill()
        stop_seconds = time.monotonic() - started_kill
        # No readiness probe: the clients are already knocking, and the first
        # `hello` from the new process is the moment it serves again.
        service.start(wait=False)
        spawned = time.monotonic()
        spy = service.profile(30, profile_path)
        # The first hello from the new process (a socket's "connected" flag may be stale:
        # its client has not yet read that the old connection dropped).
        while fleet.latest_hello() <= t0:
            if service.process is None or service.process.poll() is not None:
                raise RuntimeError("the new service process exited:\n" + service.log_tail())
            if time.monotonic() - spawned > 120:
                raise TimeoutError("no client got a hello from the new process in 120 s")
            time.sleep(0.05)
        ready_at.append(time.monotonic())
        writer_thread.join(60)
        committed = len(writer.commits)

        progress = Progress("waiting for every socket and every notification",
                            total=size.users, unit="sockets back")
        deadline = t0 + size.timeout
        complete = False
        while time.monotonic() < deadline:
            merged = fleet.report(since=t0)
            back = sum(1 for h in merged["hello_at"].values() if h is not None and h > t0)
            received = sum(1 for c in writer.commits
                           if c.comment_id in merged["receipts"] or c.committed < t0)
            timeline.append((time.monotonic() - t0, back, received))
            progress.update(back, f"{received:,}/{committed:,} notifications held")
            if back >= size.users and received >= committed:
                complete = True
                break
            time.sleep(0.5)
        progress.done()
        final = fleet.report(since=0.0)
        final["counters"]["abandoned"] = service.counter(
            "notifications_ws_upgrades_abandoned_total")
        final["counters"]["refused"] = service.counter(
            "notifications_ws_handshakes_refused_total")
        if spy is not None:
            spy.wait(60)
    finally:
        if fleet is not None:
            fleet.close()
        service.stop()

    receipts = final["receipts"]
    came_back = {int(u) for u, h in final["hello_at"].items() if h is not None and h > t0}
    gap = [c for c in writer.commits if t0 <= c.committed <= ready_at[0]]
    return Storm(
        connect_timeout=connect_timeout, users=size.users, complete=complete,
        stop_seconds=stop_seconds, start_seconds=ready_at[0] - spawned,
        down_seconds=ready_at[0] - t0, commits=writer.commits, gap=gap,
        # Lost: committed for a socket that is back, yet never received. For sockets
        # still away, notifications are merely not delivered yet (in the replay log).
        lost=[c for c in writer.commits
              if c.comment_id not in receipts and c.recipient in came_back],
        undelivered_not_back=[c for c in writer.commits
                              if c.comment_id not in receipts and c.recipient not in came_back],
        back_times=sorted(h - t0 for h in final["hello_at"].values()
                          if h is not None and h > t0),
        gap_receipts=sorted(receipts[c.comment_id][1] - t0 for c in gap
                            if c.comment_id in receipts),
        counters=final["counters"],
        reconnects=sum(max(0, n - 1) for n in final["connects"].values()),
        timeline=timeline, profile=summarize_profile(profile_path))


def _s(values: list[float], q: float) -> str:
    return f"{percentile(values, q):.1f}" if values else "–"


def run(size_name: str, out_dir: Path, *, database_url: str | None = None) -> dict[str, Any]:
    size = SIZES[size_name]
    out_dir.mkdir(parents=True, exist_ok=True)
    report = Report("reconnect", "Reconnect storm: restart the service under 10,000 sockets",
                    size_name)
    storms: list[Storm] = []
    with bench_database("reconnect", database_url=database_url) as db, \
            tempfile.TemporaryDirectory(prefix="bench-reconnect-") as tmp:
        report.meta["postgres"] = db.server_settings()
        load = MachineLoad(db)
        seed(db.url, size.users)
        for connect_timeout in size.connect_timeouts:
            storms.append(storm(db.url, size, connect_timeout, Path(tmp),
                                out_dir / f"reconnect_profile_{connect_timeout:g}s.txt"))
        report.meta["machine_load"] = load.finish()

    report.data["storms"] = [s.summary() for s in storms]
    # The first storm (clients as the web client), and lost / duplicated over every storm.
    report.data.update({"complete": storms[0].complete, "gap": len(storms[0].gap),
                        "lost": sum(len(s.lost) for s in storms),
                        "duplicates": sum(s.duplicates for s in storms)})
    columns = ["what"] + [("as the web client" if s.connect_timeout == WEB_CLIENT_TIMEOUT
                           else "patient clients") + f" ({s.connect_timeout:g} s connect timeout)"
                          for s in storms]

    def row(label: str, fn: Any) -> list[Any]:
        return [label] + [fn(s) for s in storms]

    report.table("The storm, measured from the moment SIGKILL was sent", columns, [
        row("sockets", lambda s: f"{s.users:,} ({size.processes} client processes)"),
        row("old process: SIGKILL → reaped",
            lambda s: f"{s.stop_seconds:.1f} s"),
        row("new process: spawned → first client hello", lambda s: f"{s.start_seconds:.1f} s"),
        row("service unavailable (SIGKILL → first hello)", lambda s: f"{s.down_seconds:.1f} s"),
        row("sockets back: p50 / p99 / last", lambda s: f"{_s(s.back_times, 50)} / "
            f"{_s(s.back_times, 99)} / {s.all_back:.1f} s"),
        row("notifications committed during the gap",
            lambda s: f"{len(s.gap):,} (writer at {size.rate:g}/s)"),
        row("last gap notification delivered",
            lambda s: f"{s.gap_receipts[-1]:.1f} s" if s.gap_receipts else "–"),
        row("every client back and complete", lambda s: f"{s.seconds:.1f} s" if s.complete
            else f"NOT within {size.timeout:.0f} s"),
        row("sockets not back at the end", lambda s: f"{s.users - len(s.back_times):,}"),
        row("successful reconnects", lambda s: f"{s.reconnects:,}"),
        row("failed connect attempts (refused, or no hello in time)",
            lambda s: f"{s.counters.get('connect_failures', 0):,} "
                      f"({s.counters.get('connect_timeouts', 0):,} timed out, "
                      f"{s.counters.get('timeouts_after_upgrade', 0):,} of them after the 101)"),
        row("upgrades the service dropped (client gone) / refused at admission",
            lambda s: f"{s.counters.get('abandoned', 0):,.0f} / "
                      f"{s.counters.get('refused', 0):,.0f}"),
        row("close codes seen", lambda s: ", ".join(
            f"{k}: {v:,}" for k, v in s.counters.get("closes", {}).items()) or "none"),
        row("resyncs (replay window exceeded)",
            lambda s: f"{s.counters.get('other', {}).get('resync', 0):,}"),
        row("lost / duplicated (sockets that came back)",
            lambda s: f"{len(s.lost)} / {s.duplicates}"),
        row("not yet delivered (their socket is not back)",
            lambda s: f"{len(s.undelivered_not_back):,}"),
    ], note="A socket is back when it has its `hello` from the new process; the replay of "
            "what it missed follows on the same socket, before live messages.")
    first = storms[0]
    full = size_name == "full"
    report.target("reconnect storm (clients as web/notifications-client.js)",
                  f"all 10k back and complete in ≤ {TARGET_SECONDS:g} s",
                  f"{first.seconds:.1f} s" if first.complete
                  else f"incomplete: {first.users - len(first.back_times):,} sockets not back "
                       f"after {size.timeout:.0f} s",
                  (first.complete and first.seconds <= TARGET_SECONDS) if full else None)
    for extra in storms[1:]:
        report.target(f"reconnect storm, patient clients ({extra.connect_timeout:g} s timeout)",
                      f"all 10k back and complete in ≤ {TARGET_SECONDS:g} s",
                      f"{extra.seconds:.1f} s" if extra.complete else "incomplete",
                      (extra.complete and extra.seconds <= TARGET_SECONDS) if full else None)
    lost = sum(len(s.lost) for s in storms)
    duplicates = sum(s.duplicates for s in storms)
    report.target("messages lost or duplicated (storm)", "zero",
                  f"{lost} lost, {duplicates} duplicated", lost == 0 and duplicates == 0)
    for s in storms:
        if s.profile:
            report.table(f"Where the new service process spends its time, first 30 s "
                         f"({s.connect_timeout:g} s clients; py-spy)",
                         ["function", "share of samples (inclusive)"],
                         [[name, f"{share:.0%}"] for name, share in s.profile])
    report.note("Backoff as web/notifications-client.js: full jitter, first retry within 1 s, "
                "×1.4 per failed attempt, at most 30 s and at most the time since the loss; "
                "an attempt without `hello` within the connect timeout is abandoned and counts as failed. "
                f"{size.processes} client processes share the 2 cores with the service and "
                "PostgreSQL while they reconnect.")
    _plot(report, storms, size, out_dir)
    report.write(out_dir)
    return {"report": report, "storms": storms, "complete": first.complete,
            "storm_seconds": first.seconds, "lost": lost, "duplicates": duplicates,
            "gap": len(first.gap)}


def _plot(report: Report, storms: list[Storm], size: StormSize, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for s in storms:
        if s.timeline:
            xs = [t for t, _, _ in s.timeline]
            label = f"{s.connect_timeout:g} s connect timeout"
            ax.plot(xs, [b / size.users * 100 for _, b, _ in s.timeline],
                    label=f"sockets back, {label}")
            ax.plot(xs, [r / max(1, len(s.commits)) * 100 for _, _, r in s.timeline],
                    linestyle="dotted", label=f"notifications held, {label}")
    ax.axvline(TARGET_SECONDS, color="red", linestyle="dashed", label=f"{TARGET_SECONDS:g} s target")
    ax.set_xlabel("seconds since SIGKILL")
    ax.set_ylabel("%")
    ax.set_ylim(0, 105)
    ax.set_title(f"Reconnect storm, {size.users:,} sockets (2 shared cores)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(report.plot_path(out_dir, "storm"), dpi=110)
    plt.close(fig)


def main() -> None:
    args = parse_args(__doc__ or "")
    run(args.size, args.out, database_url=args.database_url)


if __name__ == "__main__":
    main()
