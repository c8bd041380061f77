"""The demo is a package of its own: the service imports it only for `serve --demo`."""

from __future__ import annotations

import re
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


def test_every_sql_statement_of_the_service_is_a_named_query() -> None:
    """No module of the service (or of the demo) writes SQL of its own: every statement
    is a file in db/queries/, loaded by name (queries.sql)."""
    import ast
    from pathlib import Path

    import pg_social_notifications

    statement = re.compile(r"^\s*((SELECT|INSERT INTO|UPDATE|DELETE FROM|WITH|SET|CREATE|DROP) "
                           r"|(UN)?LISTEN [a-z_]+\s*$)")
    found = []
    packages = Path(pg_social_notifications.__file__).parent.parent  # the service's and the demo's
    for path in sorted(packages.glob("pg_social_notifications*/*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and statement.match(node.value) and len(node.value.split()) > 1:
                found.append(f"{path.parent.name}/{path.name}:{node.lineno}: {node.value[:40]!r}")
    assert found == []


def test_bench_and_tests_do_not_import_each_other() -> None:
    """bench/ and tests/ share what both need through devkit/ only: no module of bench/
    imports tests, no module of tests/ imports bench (the smoke tests run the benchmarks
    as commands and read their reports), and devkit/ imports neither."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    forbidden = {"bench": {"tests"}, "tests": {"bench"}, "devkit": {"bench", "tests"}}
    found = []
    checked = 0
    for folder, names in forbidden.items():
        for path in sorted((root / folder).rglob("*.py")):
            checked += 1
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                found += [f"{path.relative_to(root)}:{node.lineno}: imports {module}"
                          for module in modules if module.split(".")[0] in names]
    assert checked > 50, f"only {checked} modules found under {root}"
    assert found == []
