"""Run every benchmark, one after the other, and write a summary of the targets.

    .venv/bin/python -m bench all --size full            # everything (about 15 minutes)
    .venv/bin/python -m bench all --size full --publish  # ... and copy the reports and
                                                         # plots to docs/bench/
    .venv/bin/python -m bench ws --size smoke            # one benchmark
    .venv/bin/python -m bench ws --database-url postgresql://...  # in an existing database

Reports go to bench/results/<name>.{json,md,png}; the summary to
bench/results/summary.{json,md}.

Each benchmark makes a database of its own (an embedded PostgreSQL, or one on the
server BENCH_DATABASE_URL names). --database-url runs it in an existing database
instead (migrated, with the host tables, empty); since each benchmark expects such
a database, it takes one benchmark, or `dataset api` (the API runs on the dataset).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import api, dataset, deploy, nodes, reconnect, write_path, ws
from bench.common import (
    MACHINE_NOTE,
    REPO_ROOT,
    RESULTS_DIR,
    SIZES,
    BenchDatabase,
    add_database_url,
    bench_database,
    markdown_table,
    phase,
)

BENCHMARKS: dict[str, Callable[..., dict[str, Any]]] = {
    "write_path": write_path.run,
    "dataset": dataset.run,
    "api": api.run,
    "ws": ws.run,
    "reconnect": reconnect.run,
    "deploy": deploy.run,
    "nodes": nodes.run,
}
PUBLISH_DIR = REPO_ROOT / "docs" / "bench"


def summarize(names: Sequence[str], out_dir: Path, size: str,
              durations: dict[str, float], failures: dict[str, str]) -> str:
    rows: list[list[Any]] = []
    for name in names:
        path = out_dir / f"{name}.json"
        if name in failures or not path.exists():
            rows.append([name, "(benchmark failed)", failures.get(name, "no report"), "", "FAILED"])
            continue
        doc = json.loads(path.read_text())
        for t in doc["targets"]:
            verdict = "n/a (smoke)" if t["met"] is None else ("met" if t["met"] else "MISSED")
            rows.append([name, t["what"], t["target"], t["measured"], verdict])
    table = markdown_table(["benchmark", "what", "target", "measured", "verdict"], rows)
    lines = [f"# Benchmark summary (size `{size}`)", "", f"> {MACHINE_NOTE}", "", table, "",
             "Durations: " + ", ".join(f"{n} {s:.0f} s" for n, s in durations.items()), "",
             "Details: " + ", ".join(f"[{n}]({n}.md)" for n in names), "",
             "![summary](summary.png)", ""]
    text = "\n".join(lines)
    out_dir.mkdir(parents=True, exist_ok=True)  # no benchmark may have written a report
    (out_dir / "summary.md").write_text(text)
    (out_dir / "summary.json").write_text(json.dumps(
        {"size": size, "rows": rows, "durations": durations, "failures": failures}, indent=2))
    return table


def summary_plot(out_dir: Path, size: str) -> Path | None:
    """One figure for the README: write path, API, delivery, storm (what exists)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def load(name: str) -> dict[str, Any] | None:
        path = out_dir / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    docs = {n: load(n) for n in ("write_path", "api", "ws", "reconnect")}
    if not any(docs.values()):
        return None
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.6))
    wp = docs["write_path"]
    if wp:
        cells = [c for c in wp["data"]["cells"] if c["kind"] == "reaction"
                 and c["target"] == "spread"]
        writers = sorted({c["writers"] for c in cells})
        labels = {"triggers": "triggers + sequencer",
                  "bare": "bare insert"}
        for mode, label in labels.items():
            tps = [next(c["tps"] for c in cells if c["mode"] == mode and c["writers"] == w)
                   for w in writers]
            axes[0].plot(writers, tps, marker="o", label=label)
        axes[0].set_xscale("log", base=2)
        axes[0].set_xticks(writers, [str(w) for w in writers])
        axes[0].set_ylim(bottom=0)
        axes[0].set_xlabel("concurrent writers")
        axes[0].set_ylabel("reactions / s (1 per transaction, fsync on)")
        axes[0].set_title("write path")
        axes[0].legend(fontsize=8)
    api_doc = docs["api"]
    if api_doc:
        rows = api_doc["data"]["results"]
        one = [r for r in rows if r["concurrency"] == min(x["concurrency"] for x in rows)]
        names = [r["endpoint"] for r in one]
        axes[1].bar(range(len(one)), [r["p99_ms"] for r in one], label="p99, 1 connection")
        axes[1].bar(range(len(one)), [r["p50_ms"] for r in one], width=0.4, label="p50")
        from bench.api import PLAN_TARGETS

        for i, name in enumerate(names):
            axes[1].hlines(PLAN_TARGETS[name][1], i - 0.4, i + 0.4, colors="red",
                           linestyles="dashed", label="plan p99 target" if i == 0 else None)
        axes[1].set_xticks(range(len(one)), names, rotation=20, fontsize=7)
        axes[1].set_ylabel("ms")
        axes[1].set_title(f"API on {api_doc['meta'].get('dataset', {}).get('notifications', 0):,}"
                          " notifications")
        axes[1].legend(fontsize=8)
    ws_doc = docs["ws"]
    if ws_doc:
        for rate, values in ws_doc["data"].get("latencies_ms", {}).items():
            xs = sorted(values)
            if xs:
                axes[2].plot(xs, [i / len(xs) for i in range(1, len(xs) + 1)],
                             label=f"{rate}/s")
        axes[2].axvline(50, color="red", linestyle="dashed", label="p99 target 50 ms")
        axes[2].axhline(0.99, color="grey", linestyle="dotted")
        axes[2].set_xscale("log")
        axes[2].set_xlabel("INSERT commit → client receipt (ms)")
        axes[2].set_ylabel("share of notifications")
        axes[2].set_title(f"delivery, {ws_doc['data'].get('still_connected', 0):,} sockets "
                          "on one process")
        axes[2].legend(fontsize=8)
    storm_doc = docs["reconnect"]
    if storm_doc:
        for storm in storm_doc["data"]["storms"]:
            timeline = storm["timeline"]
            if timeline:
                axes[3].plot([t[0] for t in timeline], [t[1] for t in timeline],
                             label=f"{storm['connect_timeout']:g} s connect timeout")
        axes[3].axvline(30, color="red", linestyle="dashed", label="30 s target")
        axes[3].set_ylim(bottom=0)
        axes[3].set_xlim(left=0)
        axes[3].set_xlabel("seconds since SIGTERM")
        axes[3].set_ylabel("sockets back on the new process")
        axes[3].set_title("reconnect storm")
        axes[3].legend(fontsize=8)
    fig.suptitle(f"Benchmarks, size {size}: one machine, 2 cores shared by the load generator, "
                 "the service and PostgreSQL")
    fig.tight_layout()
    path = out_dir / "summary.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def publish(names: Sequence[str], out_dir: Path) -> None:
    """Copy the reports and plots to docs/bench/ (small files only, no raw data)."""
    PUBLISH_DIR.mkdir(parents=True, exist_ok=True)
    for name in [*names, "summary"]:
        for path in out_dir.glob(f"{name}*"):
            if path.suffix in (".md", ".png"):
                shutil.copy2(path, PUBLISH_DIR / path.name)
    phase(f"published reports and plots to {PUBLISH_DIR}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="*", default=["all"],
                        help=f"'all' or some of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--size", choices=SIZES, default="smoke")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--publish", action="store_true",
                        help="copy the Markdown reports and PNG plots to docs/bench/")
    add_database_url(parser)
    args = parser.parse_args(argv)
    names = list(BENCHMARKS) if "all" in args.which else args.which
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    if args.database_url and len(names) > 1 and set(names) != {"dataset", "api"}:
        parser.error("--database-url takes one benchmark (or `dataset api`): each one "
                     "expects an empty database")
    durations: dict[str, float] = {}
    failures: dict[str, str] = {}
    with ExitStack() as stack:
        shared: BenchDatabase | None = None
        built: dataset.DatasetInfo | None = None
        if "dataset" in names and "api" in names and (
                args.database_url or not os.environ.get("BENCH_DATABASE_URL")):
            # The API runs on the dataset the dataset benchmark just built: one build, not two.
            shared = stack.enter_context(bench_database("dataset_api",
                                                        database_url=args.database_url))
        for name in names:
            phase(f"benchmark {name} (size {args.size})")
            started = time.monotonic()
            try:
                if name == "dataset" and shared is not None:
                    built = dataset.run(args.size, args.out, db=shared)["info"]
                elif name == "api" and shared is not None and built is not None:
                    api.run(args.size, args.out, db=shared, built=built)
                else:
                    BENCHMARKS[name](args.size, args.out, database_url=args.database_url)
            except Exception as exc:  # keep going: one failure must not hide the others
                traceback.print_exc()
                failures[name] = f"{type(exc).__name__}: {exc}"[:200]
            durations[name] = time.monotonic() - started
            if name == "api" and shared is not None:
                stack.close()  # the 1.6 GB dataset is not needed any more
    table = summarize(names, args.out, args.size, durations, failures)
    try:
        summary_plot(args.out, args.size)
    except Exception:  # a plot must never hide the numbers
        traceback.print_exc()
    print("\nSummary\n" + table)
    if args.publish:
        publish(names, args.out)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
