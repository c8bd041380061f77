"""The demo is a package of its own: the service imports it only for `serve --demo`."""

from __future__ import annotations

import subprocess
import sys


def test_the_service_loads_without_the_demo() -> None:
    """Importing every module of the service (the app, the server, the CLI) leaves the demo
    package unloaded; only the --demo path imports it."""
    script = (
        "import pkgutil, importlib, sys, pg_social_notifications as p\n"
        "for m in pkgutil.iter_modules(p.__path__):\n"
        "    importlib.import_module('pg_social_notifications.' + m.name)\n"
        "loaded = sorted(n for n in sys.modules if n.startswith('pg_social_notifications_demo'))\n"
        "print(loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
