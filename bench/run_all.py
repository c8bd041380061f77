"""Run every benchmark, one after the other, and write a summary of the targets.

    .venv/bin/python -m bench all --size full            # everything (about 15 minutes)
    .venv/bin/python -m bench all --size full --publish  # ... and copy the reports and
                                                         # plots to docs/bench/
    .venv/bin/python -m bench ws --size smoke            # one benchmark

Reports go to bench/results/<name>.{json,md,png}; the summary to
bench/results/summary.{json,md}.
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

from bench import api, dataset, reconnect, write_path, ws
from bench.common import (
    MACHINE_NOTE,
    REPO_ROOT,
    RESULTS_DIR,
    SIZES,
    BenchDatabase,
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
             "Details: " + ", ".join(f"[{n}]({n}.md)" for n in names), ""]
    text = "\n".join(lines)
    (out_dir / "summary.md").write_text(text)
    (out_dir / "summary.json").write_text(json.dumps(
        {"size": size, "rows": rows, "durations": durations, "failures": failures}, indent=2))
    return table


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
    args = parser.parse_args(argv)
    names = list(BENCHMARKS) if "all" in args.which else args.which
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    durations: dict[str, float] = {}
    failures: dict[str, str] = {}
    with ExitStack() as stack:
        shared: BenchDatabase | None = None
        built: dataset.DatasetInfo | None = None
        if "dataset" in names and "api" in names and not os.environ.get("BENCH_DATABASE_URL"):
            # The API runs on the dataset the dataset benchmark just built: one build, not two.
            shared = stack.enter_context(bench_database("dataset_api"))
        for name in names:
            phase(f"benchmark {name} (size {args.size})")
            started = time.monotonic()
            try:
                if name == "dataset" and shared is not None:
                    built = dataset.run(args.size, args.out, db=shared)["info"]
                elif name == "api" and shared is not None and built is not None:
                    api.run(args.size, args.out, db=shared, built=built)
                else:
                    BENCHMARKS[name](args.size, args.out)
            except Exception as exc:  # keep going: one failure must not hide the others
                traceback.print_exc()
                failures[name] = f"{type(exc).__name__}: {exc}"[:200]
            durations[name] = time.monotonic() - started
            if name == "api" and shared is not None:
                stack.close()  # the 1.6 GB dataset is not needed any more
    table = summarize(names, args.out, args.size, durations, failures)
    print("\nSummary\n" + table)
    if args.publish:
        publish(names, args.out)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
