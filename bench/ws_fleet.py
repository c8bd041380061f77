"""The WebSocket benchmarks' moving parts: the seeded database, the fleet of
client processes, and the writer that commits host INSERTs at a fixed rate."""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import psycopg

from bench import ws_clients
from bench.common import Progress
from devkit.hostdata import seed_site, sequence

INSERT_COMMENT = """
INSERT INTO comments (id, post_id, author_id, body) VALUES (%(id)s, %(post)s, %(actor)s,
    'Wonderful light in this one!')
"""


# The site has a history: every user already has a few comments on their post (through
# the triggers, so notifications, counters and the replay log are what a live site holds).
SEED_HISTORY = """
INSERT INTO comments (id, post_id, author_id, body)
SELECT gen_random_uuid(), u, 1 + (u + k * 7919) %% %(n)s, 'An earlier comment'
  FROM generate_series(1, %(n)s::int) AS u, generate_series(1, %(per_user)s::int) AS k
"""


def seed(url: str, users: int, *, history_per_user: int = 5) -> None:
    """Users 1..users with one post each and a history of comments on it, sequenced and
    analysed: the planner sees tables of a site in service, not the empty ones of an
    install (plans cached on empty tables scan them whole until autovacuum analyses them)."""
    with psycopg.connect(url, autocommit=True) as conn:
        seed_site(conn, users)  # post u belongs to user u
        if history_per_user:
            conn.execute(SEED_HISTORY, {"n": users, "per_user": history_per_user})
            sequence(conn)
        conn.execute("VACUUM ANALYZE")


class Fleet:
    """`processes` client processes sharing users 1..users, one socket per user."""

    def __init__(self, ws_url: str, users: int, processes: int, *, reconnect: bool,
                 connect_parallel: int, deflate: bool = True,
                 connect_timeout: float = ws_clients.CONNECT_TIMEOUT,
                 auth: str = "message") -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        self.users = users
        for i in range(processes):
            mine = list(range(1 + i, users + 1, processes))
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=ws_clients.main, name=f"ws-clients-{i}", daemon=True,
                               args=(child, ws_url, mine, reconnect, connect_parallel, deflate,
                                     connect_timeout, auth))
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)

    def _all(self, command: str, arg: Any = None, timeout: float = 120.0) -> list[Any]:
        for pipe in self.pipes:
            pipe.send((command, arg))
        answers = []
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise TimeoutError(f"client process did not answer {command!r}")
            status, value = pipe.recv()
            if status != "ok":
                raise RuntimeError(f"client process failed: {value}")
            answers.append(value)
        return answers

    def connect(self) -> None:
        self._all("connect")

    def status(self) -> tuple[int, int]:
        """(connected sockets, notifications applied) over all processes."""
        answers = self._all("status")
        return sum(a["connected"] for a in answers), sum(a["notifications"] for a in answers)

    def latest_hello(self) -> float:
        """When the last `hello` arrived on any socket (monotonic; 0 before any)."""
        return float(max(a["latest_hello"] for a in self._all("status")))

    def wait_connected(self, timeout: float, label: str = "connecting",
                       settle: float | None = None) -> float:
        """Seconds until every socket is open. With `settle`, also return (not raise)
        once the count has not moved for that long: clients without reconnect that
        were refused (HTTP 403, handshake limit) never come back."""
        progress = Progress(label, total=self.users, unit="sockets")
        deadline = time.monotonic() + timeout
        last, moved = -1, time.monotonic()
        while True:
            connected, _ = self.status()
            progress.update(connected)
            if connected >= self.users:
                return progress.done()
            if connected != last:
                last, moved = connected, time.monotonic()
            if settle is not None and time.monotonic() - moved > settle:
                return progress.done()
            if time.monotonic() > deadline:
                counters = self.report()["counters"]
                raise TimeoutError(f"only {connected} of {self.users} sockets connected; "
                                   f"client counters: {counters}")
            time.sleep(0.25)

    def freeze(self) -> None:
        """gc.freeze() in every client process, once the sockets are open."""
        self._all("freeze")

    def report(self, since: float = 0.0) -> dict[str, Any]:
        """Every process's measurements merged."""
        merged: dict[str, Any] = {"sockets": 0, "connected": 0, "connect_times": [],
                                  "hello_at": {}, "connects": {}, "down": [],
                                  "receipts": {}, "counters": {}}
        for answer in self._all("report", since):
            merged["sockets"] += answer["sockets"]
            merged["connected"] += answer["connected"]
            merged["connect_times"] += answer["connect_times"]
            merged["hello_at"].update(answer["hello_at"])
            merged["connects"].update(answer["connects"])
            merged["down"] += answer["down"]
            merged["receipts"].update(answer["receipts"])
            for key, value in answer["counters"].items():
                if isinstance(value, dict):
                    bucket = merged["counters"].setdefault(key, {})
                    for k, v in value.items():
                        bucket[str(k)] = bucket.get(str(k), 0) + v
                else:
                    merged["counters"][key] = merged["counters"].get(key, 0) + value
        return merged

    def forget(self) -> None:
        self._all("forget")

    def close(self) -> None:
        with contextlib.suppress(TimeoutError, OSError, EOFError, BrokenPipeError):
            self._all("exit", timeout=30)
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()


@dataclass(frozen=True)
class Commit:
    comment_id: str
    recipient: int
    due: float  # when the schedule wanted it
    committed: float  # when COMMIT returned (monotonic)
    commit_sent: float = 0.0  # just before the INSERT + COMMIT was sent: latency starts here


class Writer:
    """Commits one host comment INSERT per notification at `rate` per second,
    spread over a few connections so one slow commit does not delay the next."""

    def __init__(self, url: str, users: int, *, connections: int = 4, seed: int = 7) -> None:
        self.url = url
        self.users = users
        self.connections = connections
        self.rng = random.Random(seed)
        self.commits: list[Commit] = []
        self.errors = 0
        self._lock = threading.Lock()

    def run(self, rate: float, seconds: float | None = None,
            until: Callable[[], bool] | None = None, label: str = "writing") -> float:
        """Write at `rate` for `seconds` (or until `until()` is true); returns seconds."""
        total = int(rate * seconds) if seconds is not None else None
        start = time.monotonic() + 0.05
        next_index = 0
        progress = Progress(label, total=total, unit="commits")
        stop = threading.Event()

        def take() -> int | None:
            nonlocal next_index
            with self._lock:
                if stop.is_set() or (total is not None and next_index >= total):
                    return None
                i = next_index
                next_index += 1
                return i

        def work() -> None:
            rng = random.Random(self.rng.random())
            with psycopg.connect(self.url, autocommit=True) as conn:
                while True:
                    i = take()
                    if i is None:
                        return
                    due = start + i / rate
                    delay = due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    recipient = rng.randint(1, self.users)
                    actor = 1 + (recipient + rng.randint(0, self.users - 2)) % self.users
                    comment_id = str(uuid.uuid4())
                    # The clock starts before the INSERT is sent (autocommit: the INSERT
                    # and its COMMIT in one round trip, as the host sends them), so a
                    # notification can never seem to arrive before its commit.
                    commit_sent = time.monotonic()
                    try:
                        conn.execute(INSERT_COMMENT, {"id": comment_id, "post": recipient,
                                                      "actor": actor})
                    except psycopg.Error:
                        with self._lock:
                            self.errors += 1
                        continue
                    committed = time.monotonic()
                    with self._lock:
                        self.commits.append(Commit(comment_id, recipient, due, committed,
                                                   commit_sent))

        threads = [threading.Thread(target=work, daemon=True) for _ in range(self.connections)]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            if until is not None and until():
                stop.set()
            progress.update(len(self.commits))
            time.sleep(0.05)
        return progress.done(f"{len(self.commits):,} committed")
