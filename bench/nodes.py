"""Past one machine: three service nodes behind HAProxy, one PostgreSQL, and one node
killed under load.

Three `notifications serve` processes, each on its own port as three hosts
would run them, behind Debian's HAProxy in TCP mode (`balance leastconn`,
health checks on `/health/ready`; devkit/haproxy.py writes the config, the
one in docs/haproxy.cfg with faster checks). The clients (bench/ws_clients.py,
one socket per user, the web client's backoff and `since`) know only the
balancer's address. Then:

1. **Spread**: how many sockets each node holds (its own `/metrics`, read on
   its own port) and what they cost it in memory.
2. **Delivery** at a fixed rate of host comment INSERTs for random users:
   latency from just before the INSERT is sent to the client's receipt
   (CLOCK_MONOTONIC, one clock for every process), what each node, HAProxy,
   PostgreSQL and the sequencer's backend spend on it, and the sequencer's
   batches.
3. **Kill**: SIGKILL of the node that leads the sequencer (the worst one to
   lose: its sockets and the numbering go at once) while the writer keeps
   its rate. Measured: when another node leads, when HAProxy marks the node
   down, when every socket is back (through the balancer, on the survivors)
   and holds every notification committed meanwhile; lost, duplicated and
   skipped positions.

    .venv/bin/python -m bench nodes --size full      # 9,000 sockets
    .venv/bin/python -m bench.nodes --size full --sockets 3000   # another number of sockets
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil
import psycopg

from bench import ws_clients
from bench.common import (
    RESULTS_DIR,
    BenchDatabase,
    MachineLoad,
    Progress,
    Report,
    add_database_url,
    bench_database,
    latency_summary,
    percentile,
    phase,
)
from bench.common import SIZES as SIZE_NAMES
from bench.ws_fleet import Commit, Fleet, Writer, seed
from devkit.haproxy import LoadBalancer, find_haproxy
from devkit.servers import ServiceProcess

NODES = ("n1", "n2", "n3")
# name, optional labels, value (the labels may change; the names stay)
SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{[^}]*\})?\s+(\S+)")
NODE_ENV = {
    # Through a TCP balancer every client arrives from the balancer's address.
    "NOTIFICATIONS_WS_MAX_UNAUTHENTICATED_PER_ADDRESS": "100000",
}
SEQUENCER_BACKEND = """
SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
 WHERE a.application_name = 'notifications-sequencer' AND a.datname = current_database()
   AND l.locktype = 'advisory' AND l.granted
"""


@dataclass(frozen=True)
class NodesSize:
    users: int  # one socket each
    processes: int  # client processes
    connect_parallel: int  # connects in flight per client process
    rate: float  # host INSERTs per second, in the delivery phase and through the kill
    seconds: float  # the delivery phase
    idle_seconds: float  # sockets open, nothing written: what holding them costs
    lead_seconds: float  # writing before the kill
    timeout: float  # after the kill, for every socket to be back and complete
    connect_timeout: float = ws_clients.CONNECT_TIMEOUT  # a client gives up an attempt


SIZES = {
    "smoke": NodesSize(users=150, processes=2, connect_parallel=8, rate=20.0, seconds=2.0,
                       idle_seconds=1.0, lead_seconds=1.0, timeout=60.0),
    # Not 10,000: HAProxy holds two descriptors per proxied socket, and this machine's
    # container caps open files at 20,000 (no CAP_SYS_RESOURCE to raise it).
    "full": NodesSize(users=9_000, processes=4, connect_parallel=8, rate=200.0, seconds=20.0,
                      idle_seconds=20.0, lead_seconds=3.0, timeout=120.0),
}


def metrics(node: ServiceProcess, timeout: float = 30.0) -> dict[str, float]:
    """A node's /metrics, each name summed over its label sets (histograms by suffix)."""
    values: dict[str, float] = {}
    with urllib.request.urlopen(node.base_url + "/metrics", timeout=timeout) as response:
        for line in response.read().decode().splitlines():
            match = SAMPLE.match(line)
            if match and 'le="' not in line:
                values[match.group(1)] = values.get(match.group(1), 0.0) + float(match.group(2))
    return values


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        times = psutil.Process(pid).cpu_times()
        return float(times.user + times.system)
    except psutil.Error:
        return 0.0


def postgres_cpu(db: BenchDatabase) -> float:
    """CPU seconds of our embedded PostgreSQL: the postmaster, its live and reaped children."""
    if db.server is None:
        return float("nan")
    try:
        pid = int((db.server.data_dir / "postmaster.pid").read_text().split()[0])
        postmaster = psutil.Process(pid)
        times = postmaster.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        return float(total + sum(cpu_seconds(c.pid) for c in postmaster.children()))
    except (OSError, ValueError, IndexError, psutil.Error):
        return float("nan")


def sequencer_backend(url: str) -> int | None:
    """The PostgreSQL backend of the session holding the sequencer lock."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(SEQUENCER_BACKEND).fetchone()
    return int(row[0]) if row else None


def leaders(nodes: dict[str, ServiceProcess]) -> list[str]:
    return [name for name, node in nodes.items()
            if metrics(node).get("notifications_sequencer_leading") == 1]


@dataclass
class Idle:
    """What holding the sockets costs with nothing to deliver (clients ping every 25 s)."""

    seconds: float
    node_cpu: dict[str, float]  # share of one core
    haproxy_cpu: float
    postgres_cpu: float
    sequencer_cpu: float  # its backend, polling every 10 ms for nothing


def measure_idle(db: BenchDatabase, nodes: dict[str, ServiceProcess], lb: LoadBalancer,
                 seconds: float) -> Idle:
    lb_pid = lb.process.pid if lb.process else None
    seq_pid = sequencer_backend(db.url) if db.server is not None else None
    cpu_before = {n: s.cpu_seconds() for n, s in nodes.items()}
    lb_before, pg_before, seq_before = cpu_seconds(lb_pid), postgres_cpu(db), cpu_seconds(seq_pid)
    started = time.monotonic()
    time.sleep(seconds)
    took = time.monotonic() - started
    return Idle(took, {n: (s.cpu_seconds() - cpu_before[n]) / took for n, s in nodes.items()},
                (cpu_seconds(lb_pid) - lb_before) / took, (postgres_cpu(db) - pg_before) / took,
                (cpu_seconds(seq_pid) - seq_before) / took if seq_pid else float("nan"))


@dataclass
class Steady:
    commits: list[Commit]
    latencies_s: list[float]
    lost: int
    misrouted: int
    seconds: float
    node_cpu: dict[str, float]  # share of one core
    delivered: dict[str, float]  # messages queued to sockets, per node
    server_lag_ms: dict[str, float]  # the node's own view: sequenced -> queued
    haproxy_cpu: float
    postgres_cpu: float
    sequencer_cpu: float
    sequencer_rows: float
    sequencer_batches: float
    sequencer_busy: float  # seconds spent in batches


def measure_steady(db: BenchDatabase, fleet: Fleet, nodes: dict[str, ServiceProcess],
                   lb: LoadBalancer, size: NodesSize, leader: str) -> Steady:
    _, applied_before = fleet.status()
    fleet.forget()
    mark = time.monotonic()
    before = {n: metrics(s) for n, s in nodes.items()}
    cpu_before = {n: s.cpu_seconds() for n, s in nodes.items()}
    lb_pid = lb.process.pid if lb.process else None
    lb_before, pg_before = cpu_seconds(lb_pid), postgres_cpu(db)
    seq_pid = sequencer_backend(db.url) if db.server is not None else None
    seq_before = cpu_seconds(seq_pid)
    writer = Writer(db.url, size.users, connections=4)
    took = writer.run(size.rate, size.seconds, label=f"writing at {size.rate:g}/s")
    # CPU over the writing only (what follows is waiting for the last receipts).
    node_cpu = {n: (s.cpu_seconds() - cpu_before[n]) / took for n, s in nodes.items()}
    haproxy_cpu = (cpu_seconds(lb_pid) - lb_before) / took
    pg_cpu = (postgres_cpu(db) - pg_before) / took
    seq_cpu = (cpu_seconds(seq_pid) - seq_before) / took if seq_pid else float("nan")
    deadline = time.monotonic() + 15
    while (fleet.status()[1] - applied_before < len(writer.commits)
           and time.monotonic() < deadline):
        time.sleep(0.1)
    time.sleep(0.5)
    after = {n: metrics(s) for n, s in nodes.items()}
    receipts = fleet.report(since=mark)["receipts"]
    latencies, lost, misrouted = [], 0, 0
    for commit in writer.commits:
        receipt = receipts.get(commit.comment_id)
        if receipt is None:
            lost += 1
            continue
        misrouted += int(receipt[0]) != commit.recipient
        latencies.append(receipt[1] - commit.commit_sent)

    def delta(node: str, name: str) -> float:
        return after[node].get(name, 0.0) - before[node].get(name, 0.0)

    lag = {n: 1000 * delta(n, "notifications_delivery_lag_seconds_sum")
           / max(1.0, delta(n, "notifications_delivery_lag_seconds_count")) for n in nodes}
    return Steady(
        commits=writer.commits, latencies_s=latencies, lost=lost, misrouted=misrouted,
        seconds=took, node_cpu=node_cpu,
        delivered={n: delta(n, "notifications_ws_messages_delivered_total") for n in nodes},
        server_lag_ms=lag, haproxy_cpu=haproxy_cpu, postgres_cpu=pg_cpu, sequencer_cpu=seq_cpu,
        sequencer_rows=delta(leader, "notifications_sequencer_rows_total"),
        sequencer_batches=delta(leader, "notifications_sequencer_batch_seconds_count"),
        sequencer_busy=delta(leader, "notifications_sequencer_batch_seconds_sum"))


@dataclass
class Kill:
    victim: str
    moved: list[int]  # users whose socket was on the killed node
    reaped: float  # kill -> the process is gone (waited for)
    lock_freed: float  # kill -> its PostgreSQL session no longer holds the sequencer lock
    takeover: float  # kill -> a survivor's session holds the sequencer lock
    marked_down: float  # kill -> HAProxy marks the node DOWN
    back_times: list[float]  # kill -> hello on a survivor, per moved socket
    complete: bool
    complete_seconds: float
    commits: list[Commit]
    lost: int  # committed, never received by a socket that is back
    undelivered_not_back: int  # committed for a socket not back yet: still in the replay log
    sockets_not_back: int
    latency_moved: list[float]
    latency_stayed: list[float]
    counters: dict[str, Any]
    open_after: dict[str, float]
    timeline: list[tuple[float, int]]  # (seconds since the kill, sockets connected)
    scatter: list[tuple[float, float, bool]]  # (commit time since the kill, latency, moved)


def _open_sockets(node: ServiceProcess) -> float:
    try:
        return metrics(node).get("notifications_ws_open_sockets", float("nan"))
    except OSError:  # too busy to answer within the timeout: say so, keep the rest
        return float("nan")


class KillWatch:
    """Times the takeover from their own sources, each in its own thread, so that a slow
    one (an overloaded node's /metrics, the client processes' pipes) delays no other:
    the sequencer lock from PostgreSQL's pg_locks, the node's state from HAProxy."""

    def __init__(self, url: str, lb: LoadBalancer, victim: str, old_backend: int | None) -> None:
        self.t0 = time.monotonic()
        self.lock_freed = self.takeover = self.marked_down = float("nan")
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._lock, args=(url, old_backend), daemon=True),
                         threading.Thread(target=self._haproxy, args=(lb, victim), daemon=True)]
        for thread in self._threads:
            thread.start()

    def _since(self) -> float:
        return time.monotonic() - self.t0

    def _lock(self, url: str, old_backend: int | None) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while not self._stop.is_set() and self.takeover != self.takeover:
                row = conn.execute(SEQUENCER_BACKEND).fetchone()
                holder = int(row[0]) if row else None
                if holder != old_backend and self.lock_freed != self.lock_freed:
                    self.lock_freed = self._since()  # the dead leader's session has ended
                if holder is not None and holder != old_backend:
                    self.takeover = self._since()  # a survivor's session holds it
                time.sleep(0.02)

    def _haproxy(self, lb: LoadBalancer, victim: str) -> None:
        while not self._stop.is_set():
            if lb.server_status().get(victim) == "DOWN":
                self.marked_down = self._since()
                return
            time.sleep(0.05)

    def close(self, timeout: float) -> None:
        """Wait up to `timeout` for what has not happened yet, then stop watching."""
        deadline = time.monotonic() + timeout
        while (self.takeover != self.takeover or self.marked_down != self.marked_down) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        for thread in self._threads:
            thread.join(5)


def measure_kill(db: BenchDatabase, fleet: Fleet, nodes: dict[str, ServiceProcess],
                 lb: LoadBalancer, size: NodesSize, victim: str) -> Kill:
    survivors = {n: s for n, s in nodes.items() if n != victim}
    before = fleet.report(since=time.monotonic())
    connects_before = {int(u): c for u, c in before["connects"].items()}
    fleet.forget()
    stop = threading.Event()
    writer = Writer(db.url, size.users, connections=4, seed=11)
    thread = threading.Thread(target=writer.run, daemon=True, kwargs={
        "rate": size.rate, "label": "writing through the kill", "until": stop.is_set})
    thread.start()
    time.sleep(size.lead_seconds)
    phase(f"kill -9 of node {victim} (the sequencer's), writer at {size.rate:g}/s")
    old_backend = sequencer_backend(db.url)
    watch = KillWatch(db.url, lb, victim, old_backend)
    t0 = watch.t0
    nodes[victim].kill()
    reaped = time.monotonic() - t0
    timeline: list[tuple[float, int]] = []
    progress = Progress("waiting for every socket and every notification", total=size.users,
                        unit="sockets")
    complete, complete_at = False, float("nan")
    while time.monotonic() - t0 < size.timeout:
        now = time.monotonic() - t0
        connected, _ = fleet.status()
        timeline.append((now, connected))
        progress.update(connected)
        if connected >= size.users and watch.takeover == watch.takeover:
            # Every socket is back: does each hold what was committed until now?
            cutoff = time.monotonic() - 0.5
            receipts = fleet.report(since=t0 - size.lead_seconds - 1)["receipts"]
            if all(c.comment_id in receipts for c in writer.commits if c.committed < cutoff):
                complete, complete_at = True, time.monotonic() - t0
                break
        time.sleep(0.25)
    progress.done()
    watch.close(15)  # the sockets may be back before the checks have failed twice
    time.sleep(1.0)
    stop.set()
    thread.join(30)
    # The last commits' way to their sockets: wait (bounded) until every socket that is
    # connected holds what was committed for it, so that "lost" is not just "late".
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        late = fleet.report(since=t0 - size.lead_seconds - 1)
        away = {int(u) for u in late["down"]}
        if all(c.comment_id in late["receipts"] for c in writer.commits
               if c.recipient not in away):
            break
        time.sleep(1.0)
    final = fleet.report(since=0.0)
    receipts = final["receipts"]
    down = {int(u) for u in final["down"]}
    # On the killed node: reconnected since, or still away.
    moved = sorted(down | {u for u, c in ((int(u), c) for u, c in final["connects"].items())
                           if c > connects_before.get(u, 0)})
    moved_set = set(moved)
    hello_at = {int(u): h for u, h in final["hello_at"].items()}
    back = {u for u in moved if u not in down and (hello_at.get(u) or 0) > t0}
    back_times = sorted(hello_at[u] - t0 for u in back)
    # Lost: never received by a socket that is connected at the end. For a socket still
    # away the notification is not delivered yet (it waits in the replay log).
    missing = [c for c in writer.commits if c.comment_id not in receipts]
    lost = [c for c in missing if c.recipient not in moved_set or c.recipient in back]
    not_back = [c for c in missing if c.recipient in moved_set and c.recipient not in back]
    scatter = [(c.commit_sent - t0, receipts[c.comment_id][1] - c.commit_sent,
                c.recipient in moved_set) for c in writer.commits if c.comment_id in receipts]
    # Committed between the kill and the moment everything was back and complete.
    end = complete_at if complete else size.timeout
    window = [(t, lat, m) for t, lat, m in scatter if 0 <= t <= end]
    return Kill(
        victim=victim, moved=moved, reaped=reaped, lock_freed=watch.lock_freed,
        takeover=watch.takeover, marked_down=watch.marked_down,
        back_times=back_times, complete=complete, complete_seconds=complete_at,
        commits=writer.commits, lost=len(lost), undelivered_not_back=len(not_back),
        sockets_not_back=len(moved_set - back),
        latency_moved=[lat for _, lat, m in window if m],
        latency_stayed=[lat for _, lat, m in window if not m],
        counters=final["counters"],
        open_after={n: _open_sockets(s) for n, s in survivors.items()},
        timeline=timeline, scatter=scatter)


def run(size_name: str, out_dir: Path, *, database_url: str | None = None,
        sockets: int | None = None, rate: float | None = None,
        connect_timeout: float | None = None) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    size = SIZES[size_name]
    if sockets is not None:
        size = replace(size, users=sockets)
    if rate is not None:
        size = replace(size, rate=rate)
    if connect_timeout is not None:
        size = replace(size, connect_timeout=connect_timeout)
    binary = find_haproxy()
    if binary is None:
        raise RuntimeError("haproxy not found: apt-get install haproxy")
    report = Report("nodes", f"Three nodes behind HAProxy, {size.users:,} sockets, one killed",
                    size_name)
    with bench_database("nodes", database_url=database_url) as db, \
            tempfile.TemporaryDirectory(prefix="bench-nodes-") as tmp:
        report.meta["postgres"] = db.server_settings()
        load = MachineLoad(db)
        phase(f"seeding {size.users:,} users with one post each")
        seed(db.url, size.users)
        nodes = {n: ServiceProcess(db.url, Path(tmp) / f"{n}.log", env=NODE_ENV, log_level="warning")
                 for n in NODES}
        lb = LoadBalancer(binary, [(n, s.port) for n, s in nodes.items()], Path(tmp) / "lb",
                          maxconn=size.users + 500)
        fleet: Fleet | None = None
        try:
            phase("starting three service nodes and HAProxy")
            for node in nodes.values():
                node.start(wait=False)
            with ThreadPoolExecutor(len(nodes)) as pool:
                list(pool.map(lambda s: s.wait_ready(60), nodes.values()))
            lb.start()
            time.sleep(1.0)
            rss_before = {n: s.rss_bytes() for n, s in nodes.items()}
            phase(f"opening {size.users:,} sockets through HAProxy from {size.processes} "
                  "client processes")
            fleet = Fleet(lb.ws_url, size.users, size.processes, reconnect=True,
                          connect_parallel=size.connect_parallel,
                          connect_timeout=size.connect_timeout)
            fleet.connect()
            connect_seconds = fleet.wait_connected(timeout=600)
            fleet.freeze()
            time.sleep(3.0)
            spread = {n: metrics(s)["notifications_ws_open_sockets"] for n, s in nodes.items()}
            rss_after = {n: s.rss_bytes() for n, s in nodes.items()}
            connect = latency_summary(fleet.report()["connect_times"])
            lead = leaders(nodes)
            assert len(lead) == 1, f"expected one sequencer, got {lead}"
            phase(f"{size.users:,} sockets open, nothing written, for {size.idle_seconds:g} s")
            idle = measure_idle(db, nodes, lb, size.idle_seconds)
            phase(f"delivery at {size.rate:g}/s for {size.seconds:g} s through three nodes")
            steady = measure_steady(db, fleet, nodes, lb, size, lead[0])
            kill = measure_kill(db, fleet, nodes, lb, size, lead[0])
        finally:
            if fleet is not None:
                fleet.close()
            lb.stop()
            for log in [lb.log_path, *(s.log_path for s in nodes.values())]:
                if log.exists():  # for whoever reads the report: warnings and errors only
                    shutil.copy2(log, out_dir / f"nodes_{log.stem}.log")
            with ThreadPoolExecutor(len(nodes)) as pool:  # each closes its sockets gracefully
                list(pool.map(lambda s: s.stop(), nodes.values()))
        report.meta["machine_load"] = load.finish()

    counters = kill.counters
    duplicates, gaps = int(counters.get("duplicates", 0)), int(counters.get("gaps", 0))
    lat = latency_summary(steady.latencies_s)
    back = latency_summary(kill.back_times)
    per_connection = {n: (rss_after[n] - rss_before[n]) / max(1.0, spread[n]) for n in NODES}
    report.data.update({
        "size": size.__dict__, "connect_seconds": connect_seconds, "connect": connect,
        "spread": spread, "rss_before": rss_before, "rss_after": rss_after,
        "rss_per_connection": per_connection,
        "steady": {**{k: v for k, v in steady.__dict__.items()
                      if k not in ("commits", "latencies_s")},
                   "committed": len(steady.commits), **lat},
        "kill": {**{k: v for k, v in kill.__dict__.items()
                    if k not in ("commits", "scatter", "back_times", "latency_moved",
                                 "latency_stayed", "moved")},
                 "moved": len(kill.moved), "committed": len(kill.commits),
                 "back": back, "latency_moved": latency_summary(kill.latency_moved),
                 "latency_stayed": latency_summary(kill.latency_stayed),
                 "duplicates": duplicates, "gaps": gaps},
        # the whole run (the delivery phase and the kill), as the target below counts them
        "lost": kill.lost + steady.lost, "duplicates": duplicates, "gaps": gaps,
    })
    report.table("Three nodes behind HAProxy (TCP, leastconn)", ["what"] + list(NODES), [
        ["sockets held (the node's own /metrics)"] + [f"{spread[n]:,.0f}" for n in NODES],
        ["share of all sockets"] + [f"{spread[n] / size.users:.1%}" for n in NODES],
        ["RSS before / after connecting, MiB"]
        + [f"{rss_before[n] / 2**20:,.0f} / {rss_after[n] / 2**20:,.0f}" for n in NODES],
        ["RSS per socket, KiB"] + [f"{per_connection[n] / 1024:.1f}" for n in NODES],
    ], note=f"{size.users:,} sockets (one user each) opened through the balancer in "
            f"{connect_seconds:.1f} s from {size.processes} client processes, "
            f"{size.connect_parallel} in flight each; connect p50 / p99 "
            f"{connect['p50_ms']:.0f} / {connect['p99_ms']:.0f} ms.")
    costs = unit_costs(idle, steady, spread)
    held_per_node = sum(spread.values()) / len(spread)
    report.data["idle"] = idle.__dict__
    report.data["costs"] = costs
    report.table("What each piece spends, per unit of work", ["what", "cost"], [
        [f"a node holding its {held_per_node:,.0f} sockets, nothing to deliver (clients ping "
         "every 25 s)", f"{costs['node_idle']:.1%} of a core"],
        ["a node pushing one message (its CPU at the rate, less idle)",
         f"{costs['node_us_per_message']:,.0f} µs"],
        ["HAProxy holding 1,000 idle sockets / per message",
         f"{costs['haproxy_idle_per_1k_sockets']:.2%} of a core / "
         f"{costs['haproxy_us_per_message']:,.0f} µs"],
        ["PostgreSQL per notification (the host's INSERT and COMMIT, the sequencer, "
         "three nodes' reads)", f"{costs['postgres_us_per_notification']:,.0f} µs"],
        ["the sequencer's backend: polling with nothing to do / per row",
         f"{costs['sequencer_idle']:.1%} of a core / {costs['sequencer_us_per_row']:,.0f} µs"],
    ], note=f"CPU time over {idle.seconds:.0f} s with the sockets open and nothing written, "
            f"then over the {steady.seconds:.0f} s of writing at {size.rate:g}/s; the "
            "difference is the delivery's. On a shared machine these are upper bounds "
            "(a starved process is less efficient), but they do not queue as latency does.")
    seq_rows_s = steady.sequencer_rows / steady.seconds
    report.table(f"Delivery at {size.rate:g}/s through three nodes", ["what", "value"], [
        ["committed / achieved rate", f"{len(steady.commits):,} / "
         f"{len(steady.commits) / steady.seconds:,.1f}/s"],
        ["INSERT sent → client: p50 / p90 / p99 / max", f"{lat['p50_ms']:.1f} / "
         f"{lat['p90_ms']:.1f} / {lat['p99_ms']:.1f} / {lat['max_ms']:.1f} ms"],
        ["lost / misrouted", f"{steady.lost} / {steady.misrouted}"],
        ["messages pushed per node"] + [", ".join(f"{n} {steady.delivered[n]:,.0f}"
                                                  for n in NODES)],
        ["node's own lag (sequenced → queued), mean per node", ", ".join(
            f"{n} {steady.server_lag_ms[n]:.1f} ms" for n in NODES)],
        ["CPU per node (share of one core)", ", ".join(
            f"{n} {steady.node_cpu[n]:.0%}" for n in NODES)],
        ["CPU of HAProxy / all of PostgreSQL", f"{steady.haproxy_cpu:.1%} / "
         f"{steady.postgres_cpu:.0%}"],
        ["sequencer: rows/s, rows per batch, mean batch", f"{seq_rows_s:,.0f}, "
         f"{steady.sequencer_rows / max(1.0, steady.sequencer_batches):.1f}, "
         f"{1000 * steady.sequencer_busy / max(1.0, steady.sequencer_batches):.2f} ms"],
        ["sequencer: time in batches / its backend's CPU", f"{steady.sequencer_busy / steady.seconds:.1%}"
         f" / {steady.sequencer_cpu:.1%} of one core"],
    ], note="Latency runs from just before the writer sends its INSERT (autocommit: INSERT "
            "and COMMIT in one round trip) to the client parsing the message. Every process "
            "shares the same 2 cores.")
    report.table(f"kill -9 of the sequencer's node ({kill.victim}) under {size.rate:g}/s, "
                 f"clients giving up an attempt after {size.connect_timeout:g} s",
                 ["what", "value"], [
        ["sockets on the killed node (they reconnect through HAProxy)", f"{len(kill.moved):,}"],
        ["process gone / its session's lock released", f"{kill.reaped:.2f} / "
         f"{kill.lock_freed:.2f} s after the kill"],
        ["a survivor holds the sequencer lock", f"{kill.takeover:.2f} s after the kill"],
        ["HAProxy marks the node DOWN (checks every 2 s, fall 3)",
         f"{kill.marked_down:.2f} s"],
        ["sockets back on the survivors: p50 / p99 / last", f"{back['p50_ms'] / 1000:.2f} / "
         f"{back['p99_ms'] / 1000:.2f} / {back['max_ms'] / 1000:.2f} s"],
        ["every socket back and holding every notification",
         f"{kill.complete_seconds:.1f} s" if kill.complete
         else f"NOT within {size.timeout:.0f} s"],
        ["sockets per survivor afterwards", ", ".join(
            f"{n} {v:,.0f}" for n, v in kill.open_after.items())],
        ["notifications committed in the phase", f"{len(kill.commits):,}"],
        ["sockets not back at the end / their notifications not delivered yet",
         f"{kill.sockets_not_back:,} / {kill.undelivered_not_back:,}"],
        ["lost / duplicated / positions skipped (whole run)", f"{kill.lost} / {duplicates} / {gaps}"],
        ["latency of those committed until complete, moved sockets: p50 / p99 / max",
         _lat(kill.latency_moved)],
        ["… sockets that stayed: p50 / p99 / max", _lat(kill.latency_stayed)],
        ["failed connect attempts, close codes", f"{counters.get('connect_failures', 0):,}; "
         + (", ".join(f"{k}: {v:,}" for k, v in counters.get("closes", {}).items()) or "none")],
    ], note="Nothing is numbered between the kill and the takeover: every notification "
            "committed then waits for the new sequencer, on every node, which is the "
            "latency of the stayed sockets.")
    full = size_name == "full"
    report.target("messages lost or duplicated, a node killed under load", "zero",
                  f"{kill.lost + steady.lost} lost, {duplicates} duplicated, {gaps} skipped",
                  kill.lost + steady.lost == 0 and duplicates == 0 and gaps == 0)
    report.target("every socket back and complete after kill -9 of a node", "≤ 30 s",
                  f"{kill.complete_seconds:.1f} s" if kill.complete else "incomplete",
                  (kill.complete and kill.complete_seconds <= 30) if full else None)
    worst = max(abs(spread[n] - size.users / 3) for n in NODES) / (size.users / 3)
    report.target("sockets spread over three nodes", "each a third ± 10%",
                  ", ".join(f"{spread[n]:,.0f}" for n in NODES), worst <= 0.10)
    report.note("HAProxy 2.6 from Debian, `mode tcp`, `balance leastconn`, `option httpchk` "
                "on /health/ready every 2 s (timeout 5 s, fall 3, rise 2), `option redispatch "
                "1`: docs/haproxy.cfg with the ports filled in.")
    _plot(report, kill, size, out_dir)
    report.write(out_dir)
    return {"report": report, "size": size, "spread": spread, "steady": steady, "kill": kill,
            "lost": kill.lost + steady.lost, "duplicates": duplicates, "gaps": gaps}


def unit_costs(idle: Idle, steady: Steady, spread: dict[str, float]) -> dict[str, float]:
    """CPU per unit of work, from the idle and the steady phase (NaN where not measured)."""
    held = sum(spread.values()) or float("nan")
    delivered = sum(steady.delivered.values()) or float("nan")
    extra_node = sum(steady.node_cpu.values()) - sum(idle.node_cpu.values())
    return {
        "node_idle_per_1k_sockets": sum(idle.node_cpu.values()) / held * 1000,
        "node_us_per_message": extra_node * steady.seconds / delivered * 1e6,
        "haproxy_idle_per_1k_sockets": idle.haproxy_cpu / held * 1000,
        "haproxy_us_per_message": (steady.haproxy_cpu - idle.haproxy_cpu) * steady.seconds
        / delivered * 1e6,
        "postgres_us_per_notification": (steady.postgres_cpu - idle.postgres_cpu)
        * steady.seconds / max(1, len(steady.commits)) * 1e6,
        "sequencer_us_per_row": (steady.sequencer_cpu - idle.sequencer_cpu) * steady.seconds
        / (steady.sequencer_rows or float("nan")) * 1e6,
        "sequencer_idle": idle.sequencer_cpu,
        "node_idle": sum(idle.node_cpu.values()) / len(idle.node_cpu),
    }


def _lat(values: list[float]) -> str:
    if not values:
        return "–"
    ordered = sorted(values)
    return (f"{percentile(ordered, 50) * 1000:.0f} / {percentile(ordered, 99) * 1000:.0f} / "
            f"{ordered[-1] * 1000:.0f} ms")


def _plot(report: Report, kill: Kill, size: NodesSize, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.8))
    for moved, colour, label in ((False, "tab:blue", "socket stayed"),
                                 (True, "tab:orange", "socket was on the killed node")):
        points = [(t, lat * 1000) for t, lat, m in kill.scatter if m == moved]
        if points:
            ax.scatter([p[0] for p in points], [p[1] for p in points], s=3, color=colour,
                       label=f"delivery latency, {label}")
    ax.set_yscale("log")
    ax.set_xlabel("seconds since kill -9 (commit sent)")
    ax.set_ylabel("INSERT sent → client (ms)")
    for x, what in ((0.0, "kill"), (kill.takeover, "new sequencer"),
                    (kill.marked_down, "HAProxy: DOWN")):
        if x == x:
            ax.axvline(x, color="grey", linestyle="dotted")
            ax.annotate(what, (x, 0.02), xycoords=("data", "axes fraction"), rotation=90,
                        fontsize=7, va="bottom", ha="right")
    other = ax.twinx()
    other.plot([t for t, _ in kill.timeline], [c for _, c in kill.timeline], color="black",
               linewidth=1, label="sockets connected")
    other.set_ylim(0, size.users * 1.05)
    other.set_ylabel("sockets connected")
    ax.legend(loc="upper right", fontsize=7, markerscale=4)
    ax.set_title(f"Three nodes behind HAProxy, {size.users:,} sockets: the sequencer's node "
                 "killed (2 shared cores)")
    fig.tight_layout()
    fig.savefig(report.plot_path(out_dir, "kill"), dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=SIZE_NAMES, default="smoke")
    parser.add_argument("--sockets", type=int, help="sockets (users) instead of the size's")
    parser.add_argument("--rate", type=float, help="host INSERTs per second instead of the size's")
    parser.add_argument("--connect-timeout", type=float,
                        help="seconds a client waits for hello before it gives up an attempt "
                             f"(default {ws_clients.CONNECT_TIMEOUT:g}, as the web client)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    add_database_url(parser)
    args = parser.parse_args(argv)
    run(args.size, args.out, database_url=args.database_url, sockets=args.sockets,
        rate=args.rate, connect_timeout=args.connect_timeout)


if __name__ == "__main__":
    main()
