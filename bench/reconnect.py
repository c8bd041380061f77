"""The reconnect storm: restart the service with 10,000 clients connected
while the host keeps writing, and measure how long until every client is
back and holds every notification committed during the gap.

The clients behave as web/notifications-client.js does: on close they wait a
full-jitter backoff (uniform in [0, min(30 s, 1 s × 1.4^attempt))) and
reconnect with `since` = the last position they applied, so the service
replays what they missed. The writer commits host comment INSERTs at a
steady rate from before the restart until after the new process is ready.

    .venv/bin/python -m bench.reconnect --size full
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import MachineLoad, Progress, Report, bench_database, latency_summary, parse_args, phase
from bench.service_process import ServiceProcess
from bench.ws_fleet import Fleet, Writer, seed


@dataclass(frozen=True)
class StormSize:
    users: int
    processes: int
    rate: float
    lead_seconds: float  # writing before the restart
    timeout: float


SIZES = {
    "smoke": StormSize(users=200, processes=2, rate=20.0, lead_seconds=1.0, timeout=60.0),
    "full": StormSize(users=10_000, processes=4, rate=50.0, lead_seconds=3.0, timeout=180.0),
}


def run(size_name: str, out_dir: Path, *, database_url: str | None = None) -> dict[str, Any]:
    size = SIZES[size_name]
    report = Report("reconnect", "Reconnect storm: restart the service under 10,000 sockets",
                    size_name)
    timeline: list[tuple[float, int, int]] = []
    with bench_database("reconnect", database_url=database_url) as db, \
            tempfile.TemporaryDirectory(prefix="bench-reconnect-") as tmp:
        report.meta["postgres"] = db.server_settings()
        load = MachineLoad(db)
        seed(db.url, size.users)
        service = ServiceProcess(db.url, Path(tmp) / "service.log")
        phase("starting the service")
        service.start()
        fleet: Fleet | None = None
        try:
            fleet = Fleet(service.ws_url, size.users, size.processes, reconnect=True,
                          connect_parallel=8)
            fleet.connect()
            fleet.wait_connected(timeout=600, label="connecting before the storm")
            fleet.freeze()
            _, applied_before = fleet.status()

            ready_at: list[float] = []
            writer = Writer(db.url, size.users, connections=4)
            # Write until one second after the new process is ready.
            writer_thread = threading.Thread(target=writer.run, daemon=True, kwargs={
                "rate": size.rate, "label": "writing through the restart",
                "until": lambda: bool(ready_at) and time.monotonic() > ready_at[0] + 1.0})
            writer_thread.start()
            time.sleep(size.lead_seconds)

            phase("restarting the service (SIGTERM, then a new process on the same port)")
            t0 = time.monotonic()
            stop_seconds = service.stop()
            start_seconds = service.start()
            ready_at.append(time.monotonic())
            writer_thread.join(60)
            committed = len(writer.commits)

            progress = Progress("waiting for every socket and every notification",
                                total=size.users, unit="sockets back")
            deadline = time.monotonic() + size.timeout
            complete = False
            while time.monotonic() < deadline:
                merged = fleet.report(since=t0)
                back = sum(1 for h in merged["hello_at"].values() if h is not None and h > t0)
                received = sum(1 for c in writer.commits if c.comment_id in merged["receipts"]
                               or c.committed < t0)
                timeline.append((time.monotonic() - t0, back, received))
                progress.update(back, f"{received:,}/{committed:,} notifications held")
                if back >= size.users and received >= committed:
                    complete = True
                    break
                time.sleep(0.5)
            progress.done()
            final = fleet.report(since=0.0)
        finally:
            if fleet is not None:
                fleet.close()
            service.stop()
        report.meta["machine_load"] = load.finish()

    receipts = final["receipts"]
    gap = [c for c in writer.commits if t0 <= c.committed <= ready_at[0]]
    lost = [c for c in writer.commits if c.comment_id not in receipts]
    back_times = sorted(h - t0 for h in final["hello_at"].values() if h is not None and h > t0)
    gap_receipts = sorted(receipts[c.comment_id][1] - t0 for c in gap
                          if c.comment_id in receipts)
    all_back = back_times[-1] if len(back_times) == size.users else float("nan")
    all_gap = gap_receipts[-1] if gap_receipts else 0.0
    storm_seconds = max(all_back, all_gap) if complete else float("nan")
    counters = final["counters"]
    duplicates = int(counters.get("duplicates", 0))
    reconnects = sum(max(0, n - 1) for n in final["connects"].values())
    report.data.update({
        "stop_seconds": stop_seconds, "down_seconds": ready_at[0] - t0,
        "start_seconds": start_seconds, "storm_seconds": storm_seconds,
        "all_back_seconds": all_back, "gap_delivered_seconds": all_gap,
        "committed": len(writer.commits), "gap_commits": len(gap), "lost": len(lost),
        "duplicates": duplicates, "counters": counters, "reconnects": reconnects,
        "back_times": latency_summary(back_times), "timeline": timeline,
    })
    report.table("The storm, measured from the moment SIGTERM was sent", ["what", "value"], [
        ["sockets", f"{size.users:,} (one user each, {size.processes} client processes)"],
        ["old process: SIGTERM → exited (graceful close)", f"{stop_seconds:.1f} s"],
        ["new process: start → ready", f"{start_seconds:.1f} s"],
        ["service unavailable (SIGTERM → new process ready)", f"{ready_at[0] - t0:.1f} s"],
        ["sockets back: p50 / p99 / last",
         f"{_s(back_times, 50)} / {_s(back_times, 99)} / {all_back:.1f} s"],
        ["notifications committed during the gap", f"{len(gap):,} (writer at {size.rate:g}/s)"],
        ["last gap notification delivered", f"{all_gap:.1f} s"],
        ["every client back and complete", f"{storm_seconds:.1f} s"
         if complete else f"NOT within {size.timeout:.0f} s"],
        ["reconnect attempts that succeeded", f"{reconnects:,}"],
        ["failed connect attempts (server down or busy)",
         f"{counters.get('connect_failures', 0):,}"],
        ["close codes seen", ", ".join(f"{k}: {v:,}" for k, v in
                                       counters.get("closes", {}).items()) or "none"],
        ["resyncs (replay window exceeded)", f"{counters.get('other', {}).get('resync', 0):,}"],
        ["lost / duplicated over the whole run", f"{len(lost)} / {duplicates}"],
    ], note="A socket is back when it has its `hello` from the new process; the replay of "
            "what it missed follows on the same socket, before live messages.")
    full = size_name == "full"
    report.target("reconnect storm", "all 10k back and complete in ≤ 30 s",
                  f"{storm_seconds:.1f} s" if complete else "incomplete",
                  (complete and storm_seconds <= 30) if full else None)
    report.target("messages lost or duplicated (storm)", "zero",
                  f"{len(lost)} lost, {duplicates} duplicated", not lost and duplicates == 0)
    report.note(f"Backoff as web/notifications-client.js: full jitter, first retry within 1 s, "
                f"×1.4 per failed attempt. {size.processes} client processes share the 2 cores "
                "with the service and PostgreSQL while they reconnect.")
    _plot(report, timeline, size, len(writer.commits), out_dir)
    report.write(out_dir)
    return {"report": report, "complete": complete, "storm_seconds": storm_seconds,
            "lost": len(lost), "duplicates": duplicates, "gap": len(gap)}


def _s(values: list[float], q: float) -> str:
    if not values:
        return "–"
    from bench.common import percentile

    return f"{percentile(values, q):.1f}"


def _plot(report: Report, timeline: list[tuple[float, int, int]], size: StormSize,
          committed: int, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if timeline:
        xs = [t for t, _, _ in timeline]
        ax.plot(xs, [b / size.users * 100 for _, b, _ in timeline], label="sockets back (%)")
        ax.plot(xs, [r / max(1, committed) * 100 for _, _, r in timeline],
                label="notifications held (%)")
    ax.axvline(30, color="red", linestyle="dashed", label="30 s target")
    ax.set_xlabel("seconds since SIGTERM")
    ax.set_ylabel("%")
    ax.set_ylim(0, 105)
    ax.set_title(f"Reconnect storm, {size.users:,} sockets (2 shared cores)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(report.plot_path(out_dir, "storm"), dpi=110)
    plt.close(fig)


def main() -> None:
    args = parse_args(__doc__ or "")
    run(args.size, args.out)


if __name__ == "__main__":
    main()
