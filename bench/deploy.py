"""A planned restart under 10,000 sockets: the new process first, then the old one drains.

The rolling restart of docs/OPERATIONS.md, on one machine: a new process
starts on the same port (SO_REUSEPORT) and serves beside the old one; then
the old one gets SIGTERM and closes its sockets 1012 at random moments over
NOTIFICATIONS_DRAIN_SECONDS, each with a hint to come back at once. The
clients behave as web/notifications-client.js (first-message auth, `since`
on reconnect, the hint honoured) while the host commits 50 notifications a
second throughout. Measured: lost, duplicated and skipped positions, the
delivery latency of every notification committed from SIGTERM until all are
back (commit to receipt), failed attempts, and how long the move took.

    .venv/bin/python -m bench deploy --size full
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    MachineLoad,
    Progress,
    Report,
    bench_database,
    latency_summary,
    ms,
    parse_args,
    percentile,
    phase,
)
from bench.ws_fleet import Fleet, Writer, seed
from devkit.servers import ServiceProcess

P99_TARGET = 1.0  # seconds, issue 11


@dataclass(frozen=True)
class DeploySize:
    users: int
    processes: int
    rate: float
    drain: float
    timeout: float


SIZES = {
    "smoke": DeploySize(users=300, processes=2, rate=20.0, drain=2.0, timeout=60.0),
    "full": DeploySize(users=10_000, processes=4, rate=50.0, drain=20.0, timeout=90.0),
}


def run(size_name: str, out_dir: Path, *, database_url: str | None = None) -> dict[str, Any]:
    size = SIZES[size_name]
    out_dir.mkdir(parents=True, exist_ok=True)
    report = Report("deploy", "Planned restart: a new process, then the old one drains",
                    size_name)
    env = {"NOTIFICATIONS_DRAIN_SECONDS": str(size.drain)}
    with bench_database("deploy", database_url=database_url) as db, \
            tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        report.meta["postgres"] = db.server_settings()
        load = MachineLoad(db)
        seed(db.url, size.users)
        old = ServiceProcess(db.url, Path(tmp) / "old.log", env=env, log_level="warning")
        new = ServiceProcess(db.url, Path(tmp) / "new.log", port=old.port, env=env,
                             log_level="warning")
        phase(f"starting the service; {size.users:,} sockets")
        old.start()
        fleet = Fleet(old.ws_url, size.users, size.processes, reconnect=True,
                      connect_parallel=8)
        try:
            fleet.connect()
            fleet.wait_connected(timeout=600, label="connecting to the old process")
            fleet.freeze()
            done = threading.Event()
            writer = Writer(db.url, size.users, connections=4)
            writer_thread = threading.Thread(target=writer.run, daemon=True, kwargs={
                "rate": size.rate, "label": "writing through the deploy", "until": done.is_set})
            writer_thread.start()
            time.sleep(2.0)

            phase("starting the new process on the same port")
            started = time.monotonic()
            new.start()  # ready: it listens beside the old one
            new_ready = time.monotonic() - started
            phase(f"SIGTERM to the old process (drain window {size.drain:g} s)")
            t0 = time.monotonic()
            old_gone = old.stop(timeout=size.drain + 30)
            moved_at = float("nan")
            progress = Progress("waiting until every socket is on the new process",
                                total=size.users, unit="sockets")
            deadline = t0 + size.timeout
            while time.monotonic() < deadline:
                connected, _ = fleet.status()
                progress.update(connected)
                if connected >= size.users:
                    moved_at = time.monotonic() - t0
                    break
                time.sleep(0.25)
            progress.done()
            time.sleep(2.0)  # what is committed now still counts, and must arrive
            done.set()
            writer_thread.join(30)
            final = _wait_delivered(fleet, writer, t0, timeout=30.0)
        finally:
            fleet.close()
            new.stop()
            old.stop()
        report.meta["machine_load"] = load.finish()

    receipts = final["receipts"]
    window = [c for c in writer.commits if c.commit_sent >= t0]
    latencies = sorted(receipts[c.comment_id][1] - c.commit_sent for c in window
                       if c.comment_id in receipts)
    lost = [c for c in writer.commits if c.comment_id not in receipts]
    counters = final["counters"]
    p99 = percentile(latencies, 99) if latencies else float("nan")
    summary = latency_summary(latencies)
    report.data.update({
        "users": size.users, "drain_seconds": size.drain, "new_ready_seconds": new_ready,
        "old_exit_seconds": old_gone, "all_moved_seconds": moved_at,
        "committed": len(writer.commits), "committed_during": len(window),
        "lost": len(lost), "latency": summary, "counters": counters,
        "reconnects": sum(max(0, n - 1) for n in final["connects"].values()),
    })
    report.table("The deploy, measured from the SIGTERM to the old process", ["what", "measured"], [
        ["sockets", f"{size.users:,} ({size.processes} client processes)"],
        ["new process: started → listening beside the old one", f"{new_ready:.1f} s"],
        ["old process: SIGTERM → exited (drain window)", f"{old_gone:.1f} s ({size.drain:g} s)"],
        ["every socket on the new process", f"{moved_at:.1f} s"],
        ["notifications committed from SIGTERM on", f"{len(window):,} (writer at {size.rate:g}/s)"],
        ["delivery latency p50 / p99 / max", f"{summary['p50_ms']:.1f} / {summary['p99_ms']:.1f}"
                                             f" / {summary['max_ms']:.1f} ms"],
        ["lost / duplicated / skipped positions",
         f"{len(lost)} / {counters.get('duplicates', 0)} / {counters.get('gaps', 0)}"],
        ["reconnects / failed attempts",
         f"{report.data['reconnects']:,} / {counters.get('connect_failures', 0):,}"],
        ["close codes seen", ", ".join(f"{k}: {v:,}" for k, v in
                                      sorted(counters.get("closes", {}).items())) or "–"],
    ], note="Latency: from just before the host's INSERT was sent to the client's receipt, "
            "for every notification committed from the SIGTERM until two seconds after "
            "every socket was back.")
    full = size_name == "full"
    report.target("planned restart: lost / duplicated", "0 / 0",
                  f"{len(lost)} / {counters.get('duplicates', 0)}",
                  (not lost and not counters.get("duplicates")) if full else None)
    report.target("planned restart: delivery p99 during the deploy", f"≤ {ms(P99_TARGET):g} ms",
                  f"{ms(p99):.1f} ms", (p99 <= P99_TARGET) if full else None)
    _plot(report, [(c.commit_sent - t0, receipts[c.comment_id][1] - c.commit_sent)
                   for c in window if c.comment_id in receipts], size, old_gone, out_dir)
    report.write(out_dir)
    return {"report": report, "lost": len(lost), "p99": p99}


def _plot(report: Report, points: list[tuple[float, float]], size: DeploySize,
          old_gone: float, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.scatter([t for t, _ in points], [ms(lat) for _, lat in points], s=4)
    ax.axvline(old_gone, color="grey", linestyle="dotted", label="old process exited")
    ax.axhline(ms(P99_TARGET), color="red", linestyle="dashed", label="p99 target")
    ax.set_xlabel("commit time, seconds since SIGTERM to the old process")
    ax.set_ylabel("delivery latency (ms)")
    ax.set_yscale("log")
    ax.set_title(f"Planned restart, {size.users:,} sockets, drain {size.drain:g} s")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(report.plot_path(out_dir, "latency"), dpi=110)
    plt.close(fig)


def _wait_delivered(fleet: Fleet, writer: Writer, since: float, timeout: float
                    ) -> dict[str, Any]:
    """The fleet's report once it holds every commit (or at the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        final = fleet.report(since=0.0)
        missing = sum(1 for c in writer.commits if c.comment_id not in final["receipts"])
        if not missing or time.monotonic() > deadline:
            return final
        time.sleep(0.5)


def main() -> None:
    args = parse_args(__doc__ or "")
    run(args.size, args.out, database_url=args.database_url)


if __name__ == "__main__":
    main()
