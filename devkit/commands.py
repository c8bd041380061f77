"""A command run the way its user runs it (`python -m bench ws --size smoke ...`): a
subprocess of this interpreter in the repository, and the JSON report it writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from devkit.servers import REPO_ROOT

TAIL_LINES = 40
STOP_GRACE = 30.0  # seconds for an interrupted command to stop what it started


def _tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def run_python(args: Sequence[str], *, env: dict[str, str] | None = None
               ) -> subprocess.CompletedProcess[str]:
    """`python <args>` in the repository, output captured.

    The command runs in a session of its own. If the caller is interrupted while it runs
    (a test's timeout, Ctrl-C), its process group gets SIGINT, so its `finally` blocks
    stop the services and client processes it started, then SIGKILL after STOP_GRACE.
    """
    command = [sys.executable, *args]
    proc = subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate()
    finally:
        if proc.poll() is None:
            for sig, grace in ((signal.SIGINT, STOP_GRACE), (signal.SIGKILL, None)):
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                try:
                    proc.communicate(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def run_for_report(args: Sequence[str], report: Path, *,
                   env: dict[str, str] | None = None) -> Any:
    """Run `python <args>`, which must exit 0 and write the JSON file `report`; its content.

    A failure says what ran, how it ended and the tail of its stderr and stdout.
    """
    done = run_python(args, env=env)
    ran = " ".join(args)
    assert done.returncode == 0, (
        f"`python {ran}` exited with {done.returncode}\n"
        f"--- stderr (last {TAIL_LINES} lines)\n{_tail(done.stderr)}\n"
        f"--- stdout (last {TAIL_LINES} lines)\n{_tail(done.stdout)}")
    assert report.is_file(), (f"`python {ran}` wrote no {report}\n"
                              f"--- stderr (last {TAIL_LINES} lines)\n{_tail(done.stderr)}")
    return json.loads(report.read_text())
