"""API latency and throughput on the 4.5-million-row dataset.

Builds the dataset (bench.dataset), starts one service process, and drives
it with a closed-loop HTTP/1.1 client at 1, 4 and 16 concurrent connections:
the list (first page, and deep cursor pages of the busiest users),
unread-count, mark-read (one id, as when a notification is opened) and
mark-all-read (each request a different user, with their natural unread
backlog). Every request carries a real signed token.

    .venv/bin/python -m bench.api --size full
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench import dataset
from bench.common import (
    BenchDatabase,
    MachineLoad,
    Progress,
    Report,
    given_or_new_database,
    latency_summary,
    parse_args,
    phase,
)
from bench.httpload import LoadResult, Request, fetch, run_load
from devkit.servers import SECRET, ServiceProcess
from devkit.tokens import make_token
from pg_social_notifications.paths import QUERIES_DIR

BASE = "/api/notifications"


@dataclass(frozen=True)
class ApiSize:
    dataset: dataset.DatasetSize
    concurrency: tuple[int, ...]
    seconds: float
    deep_users: int
    deep_pages: int


SIZES = {
    "smoke": ApiSize(dataset=dataset.SIZES["smoke"], concurrency=(1, 8), seconds=1.0,
                     deep_users=3, deep_pages=6),
    "full": ApiSize(dataset=dataset.SIZES["full"], concurrency=(1, 4, 16), seconds=6.0,
                    deep_users=10, deep_pages=100),
}

# (p50, p99) in ms: the plan's targets; the issue adds p99 5 ms / 20 ms.
PLAN_TARGETS = {
    "list: first page": (20.0, 50.0),
    "list: deep cursor page": (20.0, 50.0),
    "unread-count": (2.0, 15.0),
    "mark-read": (10.0, 30.0),
    "mark-all-read": (15.0, 40.0),
}
ISSUE_P99 = {"list: first page": 20.0, "list: deep cursor page": 20.0, "unread-count": 5.0}

UNREAD_IDS = """
SELECT user_id, id FROM notifications
 WHERE NOT is_read AND user_id = ANY(%(users)s)
"""
USERS_BY_VOLUME = "SELECT user_id FROM notification_counters ORDER BY last_seq DESC LIMIT %(n)s"
UNREAD_OF = "SELECT user_id, unread_count FROM notification_counters WHERE user_id = ANY(%(u)s)"


class Workload:
    """The request streams, prepared before any measurement."""

    def __init__(self, users: int, rng: random.Random) -> None:
        self.users = users
        self.rng = rng
        self.tokens: dict[int, str] = {}
        self.deep_cursors: list[tuple[int, str]] = []
        self.unread_ids: list[tuple[int, str]] = []
        self.mark_all_users: list[int] = []

    def token(self, user_id: int) -> str:
        tok = self.tokens.get(user_id)
        if tok is None:
            tok = self.tokens[user_id] = make_token(user_id, SECRET, ttl=6 * 3600)
        return tok

    def random_user(self) -> int:
        return self.rng.randint(1, self.users)

    def list_first(self) -> Request:
        u = self.random_user()
        return Request("GET", f"{BASE}/?limit=50", self.token(u))

    def list_deep(self) -> Request:
        u, cursor = self.rng.choice(self.deep_cursors)
        return Request("GET", f"{BASE}/?limit=50&cursor={cursor}", self.token(u))

    def unread_count(self) -> Request:
        return Request("GET", f"{BASE}/unread-count", self.token(self.random_user()))

    def mark_read_stream(self) -> Callable[[], Request | None]:
        items: Iterator[tuple[int, str]] = iter(self.unread_ids)

        def next_request() -> Request | None:
            item = next(items, None)
            if item is None:
                return None
            u, notification_id = item
            return Request("POST", f"{BASE}/mark-read", self.token(u),
                           json.dumps([notification_id]).encode())
        return next_request

    def mark_all_stream(self) -> Callable[[], Request | None]:
        users = iter(self.mark_all_users)

        def next_request() -> Request | None:
            u = next(users, None)
            return None if u is None else Request("POST", f"{BASE}/mark-all-read", self.token(u))
        return next_request


async def _walk_cursors(port: int, work: Workload, heavy: list[int], pages: int) -> None:
    """Follow next_cursor down each heavy user's list; keep cursors past page 10 %."""
    progress = Progress("walking cursor pages", total=len(heavy) * pages, unit="pages")
    done = 0
    for u in heavy:
        cursor: str | None = None
        for page in range(pages):
            path = f"{BASE}/?limit=50" + (f"&cursor={cursor}" if cursor else "")
            status, body = await fetch(port, Request("GET", path, work.token(u)))
            if status != 200:
                raise RuntimeError(f"list failed with {status}: {body[:200]!r}")
            cursor = json.loads(body)["next_cursor"]
            done += 1
            progress.update(done)
            if cursor is None:
                break
            if page >= max(1, pages // 10):
                work.deep_cursors.append((u, cursor))
    progress.done(f"{len(work.deep_cursors)} deep cursors")


def explain(url: str, user_id: int, before_seq: int) -> list[str]:
    """EXPLAIN ANALYZE of the list query for a deep page of the busiest user."""
    query = (QUERIES_DIR / "list_notifications.sql").read_text()
    with psycopg.connect(url) as conn:
        rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + query,
                            {"user_id": user_id, "before_seq": before_seq,
                             "unread_only": False, "notification_type": None,
                             "limit": 51}).fetchall()
        conn.rollback()
    return [str(r[0]) for r in rows]


def run(size_name: str, out_dir: Path, *, database_url: str | None = None,
        db: BenchDatabase | None = None,
        built: dataset.DatasetInfo | None = None) -> dict[str, Any]:
    """`db` and `built`: a database where bench.dataset already built the dataset."""
    size = SIZES[size_name]
    report = Report("api", "API latency and throughput on the generated dataset", size_name)
    rng = random.Random(42)
    results: dict[tuple[str, int], LoadResult] = {}
    results_two: dict[str, LoadResult] = {}
    cpu_per_request: dict[tuple[str, int], float] = {}
    with given_or_new_database("api", db, database_url) as db, \
            tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        report.meta["postgres"] = db.server_settings()
        load = MachineLoad(db)
        info = built if built is not None else dataset.build_dataset(db.url, size.dataset)
        if info.drift:
            raise RuntimeError(f"dataset drift: {info.drift[:5]}")
        report.meta["dataset"] = {"users": info.users, "notifications": info.notifications,
                                  "unread": info.unread}
        work = Workload(info.users, rng)
        with psycopg.connect(db.url, autocommit=True) as conn:
            heavy = [int(r[0]) for r in conn.execute(USERS_BY_VOLUME, {"n": size.deep_users})]
            everyone = list(range(1, info.users + 1))
            rng.shuffle(everyone)
            # A third of the users for mark-read, the rest for mark-all-read (once each).
            sample = everyone[: min(len(everyone) // 3, 3000)]
            ids = conn.execute(UNREAD_IDS, {"users": sample}).fetchall()
            work.unread_ids = [(int(u), str(i)) for u, i in ids]
            rng.shuffle(work.unread_ids)
            mark_all = everyone[len(sample):]
            work.mark_all_users = mark_all
            unread_of: dict[int, int] = {
                int(u): int(n) for u, n in conn.execute(UNREAD_OF, {"u": mark_all})}

        service = ServiceProcess(db.url, Path(tmp) / "service.log", log_level="warning")
        phase("starting the service (one process)")
        service.start()
        try:
            asyncio.run(_walk_cursors(service.port, work, heavy, size.deep_pages))
            endpoints: list[tuple[str, Callable[[], Callable[[], Request | None]]]] = [
                ("list: first page", lambda: work.list_first),
                ("list: deep cursor page", lambda: work.list_deep),
                ("unread-count", lambda: work.unread_count),
                ("mark-read", work.mark_read_stream),
                ("mark-all-read", work.mark_all_stream),
            ]
            # Warm the service and the caches the way a running service would be.
            phase("warm-up")
            for _name, stream in endpoints[:3]:
                asyncio.run(run_load(service.port, stream(), concurrency=4,
                                     seconds=min(2.0, size.seconds)))
            progress = Progress("measuring", total=len(endpoints) * len(size.concurrency),
                                unit="phases")
            step = 0
            mark_read_stream = work.mark_read_stream()
            mark_all_stream = work.mark_all_stream()
            for name, stream in endpoints:
                for concurrency in size.concurrency:
                    if name == "mark-read":
                        source = mark_read_stream  # every id is marked once
                    elif name == "mark-all-read":
                        source = mark_all_stream  # every user is marked once
                    else:
                        source = stream()
                    # Each user is marked-all-read once: share them out between the phases.
                    cap = (len(work.mark_all_users) // len(size.concurrency)
                           if name == "mark-all-read" else None)
                    cpu_before = service.cpu_seconds()
                    result = asyncio.run(run_load(service.port, source, concurrency=concurrency,
                                                  seconds=size.seconds, max_requests=cap,
                                                  keep_bodies=1))
                    cpu = service.cpu_seconds() - cpu_before
                    results[(name, concurrency)] = result
                    cpu_per_request[(name, concurrency)] = (
                        cpu / result.requests * 1e6 if result.requests else float("nan"))
                    step += 1
                    lat = latency_summary(result.latencies_s)
                    progress.update(step, f"{name} c={concurrency}: {result.rate:,.0f} req/s, "
                                          f"p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms")
            progress.done()
            report.meta["service_rss_mib"] = round(service.rss_bytes() / 1024 / 1024, 1)
        finally:
            service.stop()
        # The same service with two worker processes, one per core.
        two = ServiceProcess(db.url, Path(tmp) / "service-2.log", workers=2, log_level="warning")
        phase("the read endpoints again with `serve --workers 2`")
        two.start()
        try:
            for name, stream in endpoints[:3]:
                asyncio.run(run_load(two.port, stream(), concurrency=4, seconds=1.0))
                results_two[name] = asyncio.run(run_load(
                    two.port, stream(), concurrency=size.concurrency[-1], seconds=size.seconds))
        finally:
            two.stop()
        marked_users = work.mark_all_users[:sum(results[("mark-all-read", c)].requests
                                                for c in size.concurrency)]
        deep_seq = _deep_seq(db.url, heavy[0]) if heavy else 0
        plan = explain(db.url, heavy[0], deep_seq) if heavy else []
        report.meta["machine_load"] = load.finish()

    _tables(report, size, results, cpu_per_request, info, heavy, work, unread_of, marked_users,
            plan)
    top = size.concurrency[-1]
    two_rows = []
    for name, result in results_two.items():
        one = latency_summary(results[(name, top)].latencies_s)
        lat = latency_summary(result.latencies_s)
        two_rows.append([name, top, results[(name, top)].rate, result.rate, one["p50_ms"],
                         lat["p50_ms"], one["p99_ms"], lat["p99_ms"],
                         result.non_2xx + result.errors])
    report.data["workers_2"] = [{"endpoint": n, "req_per_s": round(r.rate, 1),
                                 **latency_summary(r.latencies_s)}
                                for n, r in results_two.items()]
    report.table(f"One process or two (`serve --workers 2`), {top} connections",
                 ["endpoint", "conns", "req/s, 1 worker", "req/s, 2 workers", "p50 ms, 1",
                  "p50 ms, 2", "p99 ms, 1", "p99 ms, 2", "errors (2 workers)"], two_rows,
                 note="One Python process uses at most one core; the second worker takes the "
                      "other core, which PostgreSQL and the load generator also need.")
    _plot(report, size, results, out_dir)
    report.write(out_dir)
    return {"report": report, "results": results}


def _deep_seq(url: str, user_id: int) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT last_seq FROM notification_counters WHERE user_id = %s",
                           (user_id,)).fetchone()
    return int(row[0]) // 2 if row else 0


def _tables(report: Report, size: ApiSize, results: dict[tuple[str, int], LoadResult],
            cpu_per_request: dict[tuple[str, int], float], info: dataset.DatasetInfo,
            heavy: list[int], work: Workload, unread_of: dict[int, int],
            marked_users: list[int], plan: list[str]) -> None:
    rows: list[list[Any]] = []
    data: list[dict[str, Any]] = []
    for (name, concurrency), result in results.items():
        lat = latency_summary(result.latencies_s)
        target = PLAN_TARGETS[name]
        met = lat["p50_ms"] <= target[0] and lat["p99_ms"] <= target[1]
        rows.append([name, concurrency, result.requests, result.rate, lat["p50_ms"],
                     lat["p90_ms"], lat["p99_ms"], lat["max_ms"],
                     f"{target[0]:g} / {target[1]:g}", "met" if met else "MISSED",
                     cpu_per_request[(name, concurrency)] / 1000.0,
                     result.non_2xx + result.errors])
        data.append({"endpoint": name, "concurrency": concurrency, "requests": result.requests,
                     "req_per_s": round(result.rate, 1), **lat,
                     "service_cpu_ms_per_request": round(
                         cpu_per_request[(name, concurrency)] / 1000.0, 3),
                     "statuses": result.statuses, "errors": result.errors,
                     "non_2xx": result.non_2xx,
                     "sample_bodies": [b.decode(errors="replace")
                                       for b in result.sample_bodies[-1:]]})
    report.data["results"] = data
    report.table(
        f"Latency and throughput ({info.notifications:,} notifications, {info.users:,} users)",
        ["endpoint", "conns", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms",
         "plan p50/p99", "plan", "service CPU ms/req", "errors"], rows,
        note="conns = concurrent keep-alive connections, each sending its next request as "
             "soon as the previous answer arrives (closed loop); the client, the service and "
             "PostgreSQL share the 2 cores, so at 16 connections latency is mostly queueing "
             "for a CPU. service CPU = the service process's CPU time / requests.")
    full = report.size == "full"
    lowest = size.concurrency[0]
    for name, target in PLAN_TARGETS.items():
        lat = latency_summary(results[(name, lowest)].latencies_s)
        report.target(f"{name}, p50/p99 (plan), 1 connection", f"≤ {target[0]:g} / "
                      f"{target[1]:g} ms", f"{lat['p50_ms']:.2f} / {lat['p99_ms']:.2f} ms",
                      (lat["p50_ms"] <= target[0] and lat["p99_ms"] <= target[1])
                      if full else None)
    for name, p99 in ISSUE_P99.items():
        for concurrency in (size.concurrency[0], size.concurrency[-1]):
            lat = latency_summary(results[(name, concurrency)].latencies_s)
            report.target(f"{name} on {info.notifications:,} rows, {concurrency} conn.",
                          f"p99 ≤ {p99:g} ms", f"{lat['p99_ms']:.2f} ms",
                          lat["p99_ms"] <= p99 if full else None)
    marked = sorted(unread_of.get(u, 0) for u in marked_users) or [0]
    report.note(f"Deep cursor pages: the {len(heavy)} busiest users (up to "
                f"{info.per_user_max:,} notifications), pages {max(1, size.deep_pages // 10) + 1}"
                f" to {size.deep_pages} of 50 ({len(work.deep_cursors)} cursors).")
    report.note(f"mark-all-read users had a median of {marked[len(marked) // 2]:,} and at most "
                f"{marked[-1]:,} unread notifications each (their natural backlog).")
    report.note("mark-read marks one unread id of a random user per request.")
    if plan:
        report.note("EXPLAIN ANALYZE, list query, busiest user, cursor in the middle of the "
                    "stream:\n\n```\n" + "\n".join(plan) + "\n```")


def _plot(report: Report, size: ApiSize, results: dict[tuple[str, int], LoadResult],
          out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    names = list(PLAN_TARGETS)
    width = 0.8 / len(size.concurrency)
    for i, concurrency in enumerate(size.concurrency):
        p50 = [latency_summary(results[(n, concurrency)].latencies_s)["p50_ms"] for n in names]
        p99 = [latency_summary(results[(n, concurrency)].latencies_s)["p99_ms"] for n in names]
        xs = [x + i * width for x in range(len(names))]
        axes[0].bar(xs, p99, width, label=f"p99, {concurrency} conn.", alpha=0.45)
        axes[0].bar(xs, p50, width * 0.5, label=f"p50, {concurrency} conn.")
        rate = [results[(n, concurrency)].rate for n in names]
        axes[1].bar(xs, rate, width, label=f"{concurrency} conn.")
    centers = [x + width * (len(size.concurrency) - 1) / 2 for x in range(len(names))]
    for j, n in enumerate(names):
        axes[0].hlines(PLAN_TARGETS[n][1], j - 0.1, j + 0.9 - 0.1, colors="red",
                       linestyles="dashed", label="plan p99 target" if j == 0 else None)
    axes[0].set_xticks(centers, names, rotation=20, fontsize=8)
    axes[0].set_ylabel("ms")
    axes[0].set_yscale("log")
    axes[0].set_title("latency (log scale)")
    axes[0].legend(fontsize=7)
    axes[1].set_xticks(centers, names, rotation=20, fontsize=8)
    axes[1].set_ylabel("requests / s")
    axes[1].set_title("throughput")
    axes[1].legend(fontsize=7)
    fig.suptitle("API on the generated dataset (one service process; 2 cores shared with "
                 "PostgreSQL and the client)")
    fig.tight_layout()
    fig.savefig(report.plot_path(out_dir, "latency"), dpi=110)
    plt.close(fig)


def main() -> None:
    args = parse_args(__doc__ or "")
    run(args.size, args.out, database_url=args.database_url)


if __name__ == "__main__":
    main()
