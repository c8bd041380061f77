"""Runs the JavaScript unit tests (web/tests/*.test.mjs) with Node's built-in test runner."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE = os.environ.get("NOTIFICATIONS_TEST_NODE") or shutil.which("node") or "/usr/bin/node"


def test_client_and_format_unit_tests_pass_under_node() -> None:
    """`node --test web/tests/` passes: backoff, resume, tabs, REST helpers and text formatting."""
    files = sorted(str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "web" / "tests").glob("*.test.mjs"))
    assert files, "no JavaScript tests found"
    result = subprocess.run([NODE, "--test", "--test-reporter=tap", *files], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=90, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    passed = re.search(r"^# pass (\d+)", output, re.MULTILINE)
    failed = re.search(r"^# fail (\d+)", output, re.MULTILINE)
    assert passed and int(passed.group(1)) >= 20, output
    assert failed and int(failed.group(1)) == 0, output


def test_elements_import_without_a_dom() -> None:
    """The elements module loads in plain Node, as it must during server-side rendering (Next.js)."""
    script = ("import('./web/notifications-elements.js').then((m) => {"
              " if (typeof m.configureNotifications !== 'function') process.exit(2); })")
    result = subprocess.run([NODE, "--input-type=module", "-e", script], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
