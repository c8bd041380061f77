"""The write path: what our triggers cost the host's INSERTs.

pgbench (PostgreSQL's own C load generator, so the client costs little CPU)
runs the host's single-row INSERTs into `reactions` and `comments`, each in
its own transaction as the host does, with 1, 4, 16 and 64 concurrent
writers, in two modes measured side by side, round-robin, in one run:

- `triggers`: our triggers on, and the sequencer running beside them as the
  service runs it (numbering, folding and announcing after each commit);
- `bare`:     our trigger on the host table disabled (a plain insert).

Then the hot spot (every writer reacts to one user's posts); a COPY of
100,000 reactions for 100 owners in one transaction, and the DELETE of
them, at three sizes (is it linear?); and the CPU cost per row of the same
inserts in one big statement, where no commit hides it, split into where it
goes. A listener drains `notifications_v2` the whole time, as the service
would, and a sampler records what the writers wait for.

    .venv/bin/python -m bench.write_path --size full
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bench.common import (
    PG_BIN,
    MachineLoad,
    Progress,
    Report,
    bench_database,
    latency_summary,
    parse_args,
    phase,
)
from devkit.hostdata import seed_site
from pg_social_notifications.queries import sql

MODES = ("triggers", "bare")
KINDS = ("reaction", "comment")


@dataclass(frozen=True)
class WriteSize:
    users: int
    posts_per_user: int
    writers: tuple[int, ...]
    seconds: float  # per cell and round
    rounds: int
    bulk_rows: int
    copy_rows: tuple[int, ...]  # COPY sizes, one transaction each (the largest is the target)
    transactions: int | None = None  # per writer, instead of `seconds` (smoke: fast)


SIZES = {
    "smoke": WriteSize(users=200, posts_per_user=2, writers=(1, 4), seconds=1.0, rounds=1,
                       bulk_rows=2_000, copy_rows=(1_000, 2_000), transactions=40),
    "full": WriteSize(users=10_000, posts_per_user=3, writers=(1, 4, 16, 64), seconds=3.0,
                      rounds=2, bulk_rows=50_000, copy_rows=(25_000, 50_000, 100_000)),
}
COPY_OWNERS = 100

# pgbench scripts. Post p belongs to user 1 + (p - 1) % nusers (devkit.hostdata.seed_site),
# so pgbench can compute the owner; the actor is any user but the owner, so every insert
# is a notification.
REACT_SPREAD = r"""
\set post random(1, :nposts)
\set owner 1 + (:post - 1) % :nusers
\set actor 1 + (:owner - 1 + random(1, :nusers - 1)) % :nusers
INSERT INTO reactions (post_id, user_id, emoji) VALUES (:post, :actor, '🔥');
"""
COMMENT_SPREAD = r"""
\set post random(1, :nposts)
\set owner 1 + (:post - 1) % :nusers
\set actor 1 + (:owner - 1 + random(1, :nusers - 1)) % :nusers
INSERT INTO comments (id, post_id, author_id, body) VALUES (gen_random_uuid(), :post, :actor,
    'What a lovely use of colour, I keep coming back to this one. Is it a print?');
"""
# The hot spot: only user 1's posts (the first version serialised these on one counter row).
REACT_HOT = r"""
\set post 1 + :nusers * random(0, :perUser - 1)
\set owner 1 + (:post - 1) % :nusers
\set actor 1 + (:owner - 1 + random(1, :nusers - 1)) % :nusers
INSERT INTO reactions (post_id, user_id, emoji) VALUES (:post, :actor, '🔥');
"""
SCRIPTS = {("reaction", "spread"): REACT_SPREAD, ("comment", "spread"): COMMENT_SPREAD,
           ("reaction", "hot"): REACT_HOT}

TRIGGER_OF = {"reaction": ("reactions", "notifications_on_reaction_insert"),
              "comment": ("comments", "notifications_on_comment_insert")}

# Row g reacts to post p as a user other than its owner, as the scripts do.
BULK = {
    "reaction": """
INSERT INTO reactions (post_id, user_id, emoji)
SELECT p, actor, '🔥'
  FROM generate_series(1, %(rows)s::int) g,
       LATERAL (SELECT 1 + (g * 7919) %% %(posts)s::int AS p) post,
       LATERAL (SELECT 1 + (post.p - 1) %% %(users)s::int AS owner) o,
       LATERAL (SELECT 1 + (o.owner + g %% (%(users)s::int - 1)) %% %(users)s::int AS actor) a
""",
    "comment": """
INSERT INTO comments (id, post_id, author_id, body)
SELECT gen_random_uuid(), p, actor,
       'What a lovely use of colour, I keep coming back to this one. Is it a print?'
  FROM generate_series(1, %(rows)s::int) g,
       LATERAL (SELECT 1 + (g * 7919) %% %(posts)s::int AS p) post,
       LATERAL (SELECT 1 + (post.p - 1) %% %(users)s::int AS owner) o,
       LATERAL (SELECT 1 + (o.owner + g %% (%(users)s::int - 1)) %% %(users)s::int AS actor) a
""",
}

WAL_TOTALS = "SELECT wal_bytes::float8, wal_fpi::float8 FROM pg_stat_wal"
WAIT_SAMPLE = """
SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS waiting, count(*)
  FROM pg_stat_activity
 WHERE application_name = 'pgbench' AND state = 'active'
 GROUP BY 1
"""


@dataclass
class Cell:
    kind: str
    target: str  # spread | hot
    mode: str
    writers: int
    transactions: int = 0
    failed: int = 0
    seconds: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    waits: Counter[str] = field(default_factory=Counter)
    wal_bytes: float = 0.0  # pg_stat_wal over the cell's runs
    wal_fpi: float = 0.0

    @property
    def tps(self) -> float:
        return self.transactions / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        lat = latency_summary(self.latencies_s)
        total_waits = sum(self.waits.values()) or 1
        per_tx = max(self.transactions, 1)
        return {"kind": self.kind, "target": self.target, "mode": self.mode,
                "writers": self.writers, "transactions": self.transactions,
                "failed": self.failed, "seconds": round(self.seconds, 2),
                "tps": round(self.tps, 1), **lat,
                "wal_bytes_per_tx": round(self.wal_bytes / per_tx),
                "wal_fpi_per_tx": round(self.wal_fpi / per_tx, 3),
                "waits": {k: round(v / total_waits, 3) for k, v in self.waits.most_common(6)}}


class Listener(threading.Thread):
    """LISTENs on notifications_v2 like one service process, and counts."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.received = 0  # NOTIFYs (one per sequencer batch and 500 users)
        self.users_announced = 0
        self.stopping = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql("listen_notifications"))  # as the service LISTENs
            self.ready.set()
            while not self.stopping.is_set():
                for notify in conn.notifies(timeout=0.2):
                    self.received += 1
                    self.users_announced += notify.payload.count(",") + 1


class SequencerThread(threading.Thread):
    """The service's sequencer loop (service/pg_social_notifications/sequencer.py), on its own connection."""

    def __init__(self, url: str, interval: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.interval = interval
        self.taken = 0
        self.busy_seconds = 0.0
        self.stopping = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stopping.is_set():
                started = time.perf_counter()
                row = conn.execute("SELECT notification_sequence(5000)").fetchone()
                taken = int(row[0]) if row else 0
                if taken:
                    self.taken += taken
                    self.busy_seconds += time.perf_counter() - started
                if taken < 5000:
                    time.sleep(self.interval)


class WaitSampler(threading.Thread):
    """Samples what the pgbench backends wait for, every 20 ms."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.current: Counter[str] | None = None
        self.stopping = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stopping.is_set():
                target = self.current
                if target is not None:
                    for waiting, count in conn.execute(WAIT_SAMPLE):
                        target[str(waiting)] += int(count)
                time.sleep(0.02)


def pgbench_args(url: str) -> list[str]:
    params = conninfo_to_dict(url)
    return ["-h", str(params.get("host", "127.0.0.1")), "-p", str(params.get("port", 5432)),
            "-U", str(params.get("user", "postgres")), str(params["dbname"])]


def run_pgbench(url: str, script: str, writers: int, seconds: float,
                variables: dict[str, int], workdir: Path,
                transactions: int | None = None) -> tuple[int, int, float, list[float]]:
    """One pgbench run for `seconds` (or `transactions` per writer); returns
    (transactions, failed, seconds, latencies)."""
    script_path = workdir / "script.sql"
    script_path.write_text(script)
    for old in workdir.glob("log.*"):
        old.unlink()
    defines = [f"-D{k}={v}" for k, v in variables.items()]
    length = ["-t", str(transactions)] if transactions else ["-T", str(max(1, round(seconds)))]
    cmd = [str(PG_BIN / "pgbench"), "-n", "-M", "prepared", "-c", str(writers),
           "-j", str(min(writers, 2)), *length, "-f", str(script_path),
           "-l", f"--log-prefix={workdir / 'log'}", *defines, *pgbench_args(url)]
    env = {**os.environ, "PGAPPNAME": "pgbench"}
    started = time.monotonic()
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.monotonic() - started
    if result.returncode not in (0, 2):  # 2: some transactions failed; reported below
        raise RuntimeError(f"pgbench failed: {result.stderr}\n{result.stdout}")
    failed_match = re.search(r"number of failed transactions: (\d+)", result.stdout)
    failed = int(failed_match.group(1)) if failed_match else 0
    latencies: list[float] = []
    for log in workdir.glob("log.*"):
        for line in log.read_text().splitlines():
            parts = line.split()
            # client_id transaction_no time_us script_no epoch epoch_us
            if len(parts) >= 6 and parts[2] not in ("failed", "skipped"):
                latencies.append(int(parts[2]) / 1e6)
    measured = wall if transactions else float(max(1, round(seconds)))
    return len(latencies), failed, measured, latencies


def set_mode(url: str, kind: str, mode: str) -> None:
    table, trigger = TRIGGER_OF[kind]
    with psycopg.connect(url, autocommit=True) as conn:
        state = "DISABLE" if mode == "bare" else "ENABLE"
        conn.execute(f"ALTER TABLE {table} {state} TRIGGER {trigger}")  # names are constants


def wal_totals(url: str) -> tuple[float, float]:
    """WAL bytes and full-page images written by the whole server so far."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(WAL_TOTALS).fetchone()
    return (float(row[0]), float(row[1])) if row else (0.0, 0.0)


def drain(url: str) -> tuple[int, float]:
    """Run the sequencer until nothing is pending: (rows taken, seconds)."""
    taken, started = 0, time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT notification_sequence(5000)").fetchone()
            n = int(row[0]) if row else 0
            taken += n
            if n == 0:
                return taken, time.perf_counter() - started


def bulk_cost(url: str, size: WriteSize, kind: str, mode: str) -> float:
    """Microseconds of server time per row for `bulk_rows` inserts in one statement.

    Runs the statement twice in one session and rolls both back: the first
    warms the caches and compiles the PL/pgSQL, the second is timed.
    """
    set_mode(url, kind, mode)
    params = {"users": size.users, "posts": size.users * size.posts_per_user,
              "rows": size.bulk_rows}
    with psycopg.connect(url) as conn:
        conn.execute(BULK[kind], params)
        conn.rollback()
        started = time.perf_counter()
        conn.execute(BULK[kind], params)
        elapsed = time.perf_counter() - started
        conn.rollback()  # only the statement's cost is wanted, not its rows
    return elapsed / size.bulk_rows * 1e6


FUNCTION_TIMES = """
SELECT funcname, calls, self_time FROM pg_stat_xact_user_functions ORDER BY self_time DESC
"""


def _timed_statement(conn: psycopg.Connection[Any], statement: str, params: dict[str, int] | None,
                     setup: str | None = None) -> float:
    """Seconds for `statement`, run once to warm up and once timed, both rolled back."""
    for _warm in (True, False):
        if setup:
            conn.execute(setup)
        started = time.perf_counter()
        conn.execute(statement, params)
        elapsed = time.perf_counter() - started
        conn.rollback()
    return elapsed


# The host's usual statement, one row, many times in one transaction: each
# INSERT fires the statement trigger on its own, and no commit hides its cost.
ONE_ROW_LOOP = """
DO $$ BEGIN
    FOR g IN 1..%(rows)s LOOP
        INSERT INTO reactions (post_id, user_id, emoji)
        SELECT p, actor, '🔥'
          FROM (SELECT 1 + (g * 7919) %% %(posts)s AS p) post,
               LATERAL (SELECT 1 + (post.p - 1) %% %(users)s AS owner) o,
               LATERAL (SELECT 1 + (o.owner + g %% (%(users)s - 1)) %% %(users)s AS actor) a;
    END LOOP;
END $$
"""
ONE_ROW_STATEMENTS = 5_000


def cost_breakdown(url: str, size: WriteSize) -> tuple[dict[str, float], list[tuple[str, int,
                                                                                   float]]]:
    """Where a reaction's cost goes (µs per row): one-row statements and one bulk statement,
    bare and with the triggers, in the host's transaction; then the sequencer's work after
    the commit; and the PL/pgSQL functions' own time."""
    params = {"users": size.users, "posts": size.users * size.posts_per_user,
              "rows": size.bulk_rows}
    loop_rows = min(ONE_ROW_STATEMENTS, size.bulk_rows)
    # Literals, not parameters: a DO block takes none (the values are the bench's own).
    loop = ONE_ROW_LOOP % {"rows": loop_rows, "posts": params["posts"], "users": size.users}
    set_mode(url, "reaction", "triggers")
    disable = "ALTER TABLE reactions DISABLE TRIGGER notifications_on_reaction_insert"
    per_row = 1e6 / size.bulk_rows
    with psycopg.connect(url) as conn:
        one_full = _timed_statement(conn, loop, None) * 1e6 / loop_rows
        one_bare = _timed_statement(conn, loop, None, disable) * 1e6 / loop_rows
        full = _timed_statement(conn, BULK["reaction"], params) * per_row
        bare = _timed_statement(conn, BULK["reaction"], params, disable) * per_row
        indexes = conn.execute(
            "SELECT count(*) FROM pg_index WHERE indrelid = 'notifications'::regclass").fetchone()
        conn.execute("SET track_functions = 'pl'")
        conn.execute(BULK["reaction"], params)
        functions = [(str(name), int(calls), float(self_ms) * 1000 / size.bulk_rows)
                     for name, calls, self_ms in conn.execute(FUNCTION_TIMES)]
        conn.rollback()
    # After the commit: what the sequencer spends on the same rows.
    drain(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(BULK["reaction"], params)
    taken, seconds = drain(url)
    with psycopg.connect(url, autocommit=True) as conn:  # leave the table as it was
        conn.execute("ALTER TABLE reactions DISABLE TRIGGER notifications_on_reaction_delete")
        conn.execute("DELETE FROM reactions")
        conn.execute("ALTER TABLE reactions ENABLE TRIGGER notifications_on_reaction_delete")
        conn.execute("ALTER TABLE notifications DISABLE TRIGGER _900_record_deletes")
        conn.execute("DELETE FROM notifications")
        conn.execute("ALTER TABLE notifications ENABLE TRIGGER _900_record_deletes")
        conn.execute("UPDATE notification_counters SET unread_count = 0")
    rows_part = (f"rules, lookups, the notification row (heap, {indexes[0] if indexes else 0} "
                 "indexes) and its change row")
    parts = {
        "one-row statements: bare host INSERT (reactions row, its FKs and index)": one_bare,
        f"one-row statements: {rows_part}": one_full - one_bare,
        "one bulk statement: bare host INSERT": bare,
        f"one bulk statement: {rows_part}": full - bare,
        "after the commit: the sequencer (position, counter, replay event, NOTIFY)":
            seconds * 1e6 / size.bulk_rows,
    }
    return parts, functions


COPY_SELECT = """
SELECT p, actor, '🔥'
  FROM generate_series(1, %(rows)s::int) g,
       LATERAL (SELECT 1 + ((g - 1) %% %(owners)s::int) AS owner) o,
       LATERAL (SELECT o.owner + %(users)s::int * ((g / %(owners)s::int) %% %(per_user)s::int) AS p) post,
       LATERAL (SELECT 1 + (o.owner + g %% (%(users)s::int - 1)) %% %(users)s::int AS actor) a
"""


@dataclass
class BulkRun:
    rows: int
    mode: str
    copy_s: float
    delete_s: float
    sequence_copy_s: float = 0.0
    sequence_delete_s: float = 0.0


def copy_and_delete(url: str, size: WriteSize, rows: int, mode: str) -> BulkRun:
    """COPY `rows` reactions for COPY_OWNERS owners in one transaction, then DELETE them
    in one statement; each timed to its commit. Triggers mode then drains the sequencer."""
    set_mode(url, "reaction", mode)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE reactions "
                     + ("DISABLE" if mode == "bare" else "ENABLE")
                     + " TRIGGER notifications_on_reaction_delete")
        records = conn.execute(COPY_SELECT, {"rows": rows, "owners": COPY_OWNERS,
                                             "users": size.users,
                                             "per_user": size.posts_per_user}).fetchall()
        # Built beforehand, so the timing is the server's, not Python's.
        data = "".join(f"{p}\t{a}\t{e}\n" for p, a, e in records).encode()
        first = conn.execute("SELECT coalesce(max(id), 0) FROM reactions").fetchone()
        start_id = int(first[0]) if first else 0
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        with conn.cursor().copy("COPY reactions (post_id, user_id, emoji) FROM STDIN") as copy:
            copy.write(data)
        conn.commit()
        copy_s = time.perf_counter() - started
    run = BulkRun(rows, mode, copy_s, 0.0)
    if mode == "triggers":
        run.sequence_copy_s = drain(url)[1]
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        conn.execute("DELETE FROM reactions WHERE id > %s", (start_id,))
        conn.commit()
        run.delete_s = time.perf_counter() - started
    if mode == "triggers":
        run.sequence_delete_s = drain(url)[1]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE reactions ENABLE TRIGGER notifications_on_reaction_delete")
        conn.execute("VACUUM reactions, notifications")
    return run


def measure_fdatasync() -> float | None:
    """One fdatasync of an 8 kB write on this disk, in microseconds (pg_test_fsync)."""
    with tempfile.TemporaryDirectory(prefix="bench-fsync-") as tmp:
        proc = subprocess.Popen(
            [str(PG_BIN / "pg_test_fsync"), "-s", "1", "-f", f"{tmp}/probe"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                match = re.search(r"^\s+fdatasync\s+[\d.]+ ops/sec\s+(\d+) usecs/op", line)
                if match:
                    return float(match.group(1))
        finally:
            proc.kill()
            proc.wait()
    return None


def run(size_name: str, out_dir: Path, *, database_url: str | None = None) -> dict[str, Any]:
    from pg_social_notifications.consistency import find_drift

    size = SIZES[size_name]
    report = Report("write_path", "Write path: host INSERTs through the triggers", size_name)
    with bench_database("write", database_url=database_url) as db:
        report.meta["postgres"] = db.server_settings()
        load = MachineLoad(db)
        url = db.url
        phase(f"seeding {size.users:,} users and {size.users * size.posts_per_user:,} posts")
        with psycopg.connect(url, autocommit=True) as conn:
            seed_site(conn, size.users, posts_per_user=size.posts_per_user)
            # The flood limit counts per (owner, actor): pgbench's random actors stay far
            # below it, the COPY's would not; this measures the write, not the limit.
            conn.execute("UPDATE notification_settings SET max_per_actor_per_hour = NULL")
            conn.execute("VACUUM ANALYZE")
        fdatasync_us = measure_fdatasync() if size_name == "full" else None
        listener = Listener(url)
        listener.start()
        listener.ready.wait(10)
        sequencer = SequencerThread(url)
        sequencer.start()
        sampler = WaitSampler(url)
        sampler.start()
        variables = {"nusers": size.users, "nposts": size.users * size.posts_per_user,
                     "perUser": size.posts_per_user}
        cells: dict[tuple[str, str, str, int], Cell] = {}
        plan: list[tuple[str, str, str, int]] = []
        for _round in range(size.rounds):
            for writers in size.writers:
                for kind in KINDS:
                    for mode in MODES:
                        plan.append((kind, "spread", mode, writers))
                for mode in MODES:
                    plan.append(("reaction", "hot", mode, writers))
        progress = Progress("pgbench cells", total=len(plan), unit="cells")
        notifying = 0
        with tempfile.TemporaryDirectory(prefix="bench-pgbench-") as tmp:
            for i, key in enumerate(plan):
                kind, target, mode, writers = key
                cell = cells.setdefault(key, Cell(kind, target, mode, writers))
                set_mode(url, kind, mode)
                wal_before = wal_totals(url)
                sampler.current = cell.waits
                done, failed, seconds, lats = run_pgbench(
                    url, SCRIPTS[(kind, target)], writers, size.seconds, variables, Path(tmp),
                    size.transactions)
                sampler.current = None
                wal_after = wal_totals(url)
                cell.wal_bytes += wal_after[0] - wal_before[0]
                cell.wal_fpi += wal_after[1] - wal_before[1]
                cell.transactions += done
                cell.failed += failed
                cell.seconds += seconds
                cell.latencies_s += lats
                if mode == "triggers":
                    notifying += done
                progress.update(i + 1, f"{kind}/{target}/{mode}/{writers}w: {done / seconds:,.0f} tx/s")
        progress.done()
        sequencer.stopping.set()
        sequencer.join()
        drain(url)
        time.sleep(0.3)
        notified, users_announced = listener.received, listener.users_announced
        listener.stopping.set()
        sampler.stopping.set()

        phase(f"COPY of up to {size.copy_rows[-1]:,} reactions for {COPY_OWNERS} owners, "
              "and their DELETE, one transaction each")
        bulk_runs = [copy_and_delete(url, size, rows, mode)
                     for rows in size.copy_rows for mode in MODES]

        phase("per-row CPU cost: one statement of many rows (no commit wait)")
        bulk: dict[str, dict[str, float]] = {}
        for kind in KINDS:
            bulk[kind] = {}
            for mode in MODES:
                bulk[kind][mode] = bulk_cost(url, size, kind, mode)
        breakdown, functions = cost_breakdown(url, size)
        set_mode(url, "reaction", "triggers")
        set_mode(url, "comment", "triggers")
        drain(url)
        drift = find_drift(url)
        report.meta["machine_load"] = load.finish()

    summaries = [c.summary() for c in cells.values()]
    report.data["size"] = vars(size)
    report.data["modes"] = list(MODES)
    report.data["cells"] = summaries
    report.data["bulk_us_per_row"] = bulk
    report.data["copy_and_delete"] = [vars(r) for r in bulk_runs]
    report.data["breakdown_us_per_row"] = breakdown
    report.data["function_self_us_per_row"] = functions
    report.data["listener_received"] = notified
    report.data["users_announced"] = users_announced
    report.data["notifying_transactions"] = notifying
    report.data["sequencer_rows"] = sequencer.taken
    report.data["sequencer_busy_seconds"] = sequencer.busy_seconds
    report.data["drift"] = drift
    report.data["fdatasync_us"] = fdatasync_us
    _tables(report, cells, size, bulk, bulk_runs, fdatasync_us)
    report.table("Where a reaction's cost goes (µs per row)",
                 ["part", "µs/row"], [[k, v] for k, v in breakdown.items()],
                 note=f"In the host's transaction by difference with the trigger off: "
                      f"{ONE_ROW_STATEMENTS:,} one-row INSERT statements (the host's usual, each "
                      "firing the trigger on its own), and one INSERT ... SELECT of all the rows; "
                      "each run twice in one session and rolled back, so no commit hides it. The "
                      "sequencer's part is its own time for the bulk rows after they committed.")
    report.table("PL/pgSQL functions' own time (track_functions, bulk reaction insert)",
                 ["function", "calls", "self µs/row"], [list(f) for f in functions])
    report.table("After the run", ["what", "value"], [
        ["notifying host transactions (pgbench, triggers mode)", notifying],
        ["changes and requests the sequencer took during the cells", sequencer.taken],
        ["sequencer busy time during the cells, s", sequencer.busy_seconds],
        ["NOTIFYs heard (one per sequencer batch)", notified],
        ["users announced in them", users_announced],
        ["notifications check: problems", len(drift)]])
    _plot(report, cells, size, out_dir)
    report.write(out_dir)
    return {"report": report, "cells": summaries, "bulk": bulk, "drift": drift,
            "copy_and_delete": [vars(r) for r in bulk_runs],
            "listener_received": notified, "notifying_transactions": notifying}


def _get(cells: dict[tuple[str, str, str, int], Cell], kind: str, target: str, mode: str,
         writers: int) -> Cell:
    return cells[(kind, target, mode, writers)]


def _tables(report: Report, cells: dict[tuple[str, str, str, int], Cell], size: WriteSize,
            bulk: dict[str, dict[str, float]], bulk_runs: list[BulkRun],
            fdatasync_us: float | None) -> None:
    worst_share = 1.0
    for kind in KINDS:
        rows: list[Sequence[Any]] = []
        for writers in size.writers:
            t, b = (_get(cells, kind, "spread", m, writers) for m in MODES)
            tl, bl = (latency_summary(c.latencies_s) for c in (t, b))
            share = t.tps / b.tps if b.tps else float("nan")
            worst_share = min(worst_share, share)
            ts, bs = t.summary(), b.summary()
            rows.append([writers, t.tps, b.tps, share, tl["p50_ms"], tl["p99_ms"],
                         bl["p50_ms"], bl["p99_ms"], ts["wal_bytes_per_tx"], bs["wal_bytes_per_tx"],
                         t.failed + b.failed])
        report.table(
            f"{kind.capitalize()}s per second, one INSERT per transaction",
            ["writers", "tx/s triggers", "tx/s bare", "share of bare", "p50 ms trig",
             "p99 ms trig", "p50 ms bare", "p99 ms bare", "WAL B/tx trig", "WAL B/tx bare",
             "failed"], rows,
            note="share of bare = triggers throughput / bare throughput (1.0 = free), measured "
                 "round-robin in one run. Latency is per transaction (INSERT + COMMIT with its "
                 "WAL flush), seen by the writer. WAL B/tx: pg_stat_wal bytes over the cell, "
                 "per transaction (the sequencer's included). The sequencer runs throughout, "
                 "on the same two cores.")
    hot_rows: list[Sequence[Any]] = []
    for writers in size.writers:
        spread = _get(cells, "reaction", "spread", "triggers", writers)
        hot = _get(cells, "reaction", "hot", "triggers", writers)
        hot_bare = _get(cells, "reaction", "hot", "bare", writers)
        hl = latency_summary(hot.latencies_s)
        top = ", ".join(f"{k} {v:.0%}" for k, v in hot.summary()["waits"].items())
        hot_rows.append([writers, spread.tps, hot.tps, hot_bare.tps, hl["p50_ms"], hl["p99_ms"],
                         top])
    report.table("The hot spot: every writer reacts to one user's posts",
                 ["writers", "tx/s spread", "tx/s hot", "tx/s hot, bare", "p50 ms hot",
                  "p99 ms hot", "what hot writers wait for"], hot_rows,
                 note="No row is shared between host transactions any more: one user's "
                      "writers run as concurrently as anyone's.")
    wait_rows: list[Sequence[Any]] = []
    top_writers = size.writers[-1]
    for kind in KINDS:
        for mode in MODES:
            c = _get(cells, kind, "spread", mode, top_writers)
            top = ", ".join(f"{k} {v:.0%}" for k, v in c.summary()["waits"].items())
            wait_rows.append([kind, mode, top_writers, top])
    report.table(f"What {top_writers} writers wait for (pg_stat_activity, sampled every 20 ms)",
                 ["kind", "mode", "writers", "share of active backends"], wait_rows,
                 note="IO:WALSync / LWLock:WALWrite is the commit's WAL flush; CPU = running. "
                      "Lock:object (the commit-time NOTIFY lock) no longer appears: only the "
                      "sequencer notifies, once per batch.")
    copy_rows: list[Sequence[Any]] = []
    worst_copy = 0.0
    for n_rows in size.copy_rows:
        tr = next(r for r in bulk_runs if r.rows == n_rows and r.mode == "triggers")
        br = next(r for r in bulk_runs if r.rows == n_rows and r.mode == "bare")
        worst_copy = max(worst_copy, tr.copy_s / br.copy_s, tr.delete_s / br.delete_s)
        copy_rows.append([n_rows, br.copy_s, tr.copy_s, tr.copy_s / br.copy_s,
                          br.delete_s, tr.delete_s, tr.delete_s / br.delete_s,
                          tr.copy_s / n_rows * 1e6, tr.sequence_copy_s, tr.sequence_delete_s])
    report.table(f"COPY and DELETE of many reactions for {COPY_OWNERS} owners, one transaction each",
                 ["rows", "COPY s bare", "COPY s triggers", "COPY ×", "DELETE s bare",
                  "DELETE s triggers", "DELETE ×", "COPY µs/row triggers",
                  "sequencer s after COPY", "sequencer s after DELETE"], copy_rows,
                 note="Each to its COMMIT. Linear when µs/row stays flat as rows grow. The "
                      "sequencer then numbers and announces the rows in its own transactions "
                      "(and applies the DELETE's retractions), off the host's clock.")
    bulk_rows = [[kind, bulk[kind]["bare"], bulk[kind]["triggers"],
                  bulk[kind]["triggers"] / bulk[kind]["bare"]] for kind in KINDS]
    report.table(f"Server CPU per row: {size.bulk_rows:,} rows in one INSERT ... SELECT",
                 ["kind", "µs/row bare", "µs/row triggers", "× triggers"], bulk_rows,
                 note="One statement, one commit: this isolates what the trigger itself "
                      "costs the host, which per-transaction commits otherwise hide.")
    full = report.size == "full"
    report.target("notifying host writes, share of bare-insert throughput",
                  "≥ 60% at every writer count", f"{worst_share:.0%} (worst of "
                  f"{len(size.writers)} writer counts, reactions and comments)",
                  worst_share >= 0.6 if full else None)
    top_t = next(r for r in bulk_runs if r.rows == size.copy_rows[-1] and r.mode == "triggers")
    top_b = next(r for r in bulk_runs if r.rows == size.copy_rows[-1] and r.mode == "bare")
    top_copy = max(top_t.copy_s / top_b.copy_s, top_t.delete_s / top_b.delete_s)
    report.target(f"COPY and DELETE of {size.copy_rows[-1]:,} reactions, vs bare",
                  "≤ 5×", f"COPY {top_t.copy_s / top_b.copy_s:.1f}×, DELETE "
                  f"{top_t.delete_s / top_b.delete_s:.1f}× (worst at any size {worst_copy:.1f}×)",
                  top_copy <= 5 if full else None)
    if fdatasync_us is not None:
        report.note(f"This disk: one 8 kB write + fdatasync takes {fdatasync_us:.0f} µs "
                    "(pg_test_fsync), the floor of one commit.")
    report.note("Writers are pgbench clients (-M prepared), so the client costs little CPU; "
                "every transaction is one INSERT and its COMMIT, as the host issues them. "
                "A sequencer loop (as in the service) and a listener on notifications_v2 run "
                "throughout, on the same machine.")


def _plot(report: Report, cells: dict[tuple[str, str, str, int], Cell], size: WriteSize,
          out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    labels = {"triggers": "triggers + sequencer", "bare": "bare insert (trigger disabled)"}
    for ax, kind in zip(axes[:2], KINDS, strict=True):
        for mode in MODES:
            ax.plot(size.writers, [_get(cells, kind, "spread", mode, w).tps
                                   for w in size.writers], marker="o", label=labels[mode])
        ax.set_xscale("log", base=2)
        ax.set_xticks(size.writers, [str(w) for w in size.writers])
        ax.set_xlabel("concurrent writers")
        ax.set_ylabel("transactions / s")
        ax.set_title(f"{kind}s, one INSERT per transaction")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    ax = axes[2]
    for mode, label in (("triggers", "hot spot, triggers"), ("bare", "hot spot, bare")):
        ax.plot(size.writers, [_get(cells, "reaction", "hot", mode, w).tps
                               for w in size.writers], marker="o", label=label)
    ax.plot(size.writers, [_get(cells, "reaction", "spread", "triggers", w).tps
                           for w in size.writers], marker="o", label="spread, triggers")
    ax.set_xscale("log", base=2)
    ax.set_xticks(size.writers, [str(w) for w in size.writers])
    ax.set_xlabel("concurrent writers")
    ax.set_ylabel("transactions / s")
    ax.set_title("reactions: hot spot")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle("Write path (2 cores shared by pgbench, PostgreSQL and the sequencer; fsync on)")
    fig.tight_layout()
    fig.savefig(report.plot_path(out_dir, "throughput"), dpi=110)
    plt.close(fig)


def main() -> None:
    args = parse_args(__doc__ or "")
    run(args.size, args.out, database_url=args.database_url)


if __name__ == "__main__":
    main()
