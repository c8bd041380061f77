"""The package installs anywhere: a wheel built from this tree, installed non-editable
into a fresh virtualenv, migrates a database, serves the demo and delivers a notification
with no file from the repository.

The fresh virtualenv takes the dependencies from the test suite's own environment (a path
to its site-packages), so the test needs no download beyond the build backend; what it
proves is that the wheel itself carries the code, the SQL and the web files.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from pg_social_notifications.embedded_db import free_port
from tests.conftest import PgServer

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "pg_social_notifications"
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                    "--disable-pip-version-check", "-w", str(out), str(REPO_ROOT)],
                   check=True, capture_output=True, text=True)
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtualenv with the wheel installed; its bin/ directory."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    (purelib,) = venv.glob("lib/python*/site-packages")
    # The suite's site-packages for the dependencies, after the venv's own: a plain path,
    # so the editable install's .pth there (the repository's service/) is not read.
    (purelib / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--quiet",
                    "--disable-pip-version-check", str(wheel)], check=True)
    yield venv / "bin"


def test_the_wheel_carries_the_sql_and_web_files(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    data = f"{PACKAGE}/_data/"
    for needed in ("db/migrations/0001_create_notification_tables.sql",
                   "db/triggers/notification_sequence.sql", "db/queries/mark_all_read.sql",
                   "db/host/host_schema.sql", "web/notifications-client.js"):
        assert data + needed in names, needed
    migrations = [n for n in names if n.startswith(data + "db/migrations/")]
    assert len(migrations) == len(list((REPO_ROOT / "db" / "migrations").glob("*.sql")))
    assert not [n for n in names if n.startswith("service/")], "no top-level `service` package"


def test_installed_non_editable_it_migrates_serves_and_notifies(
        installed: Path, pg_server: PgServer, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"  # not the repository: nothing found by accident
    elsewhere.mkdir()
    located = subprocess.run([str(installed / "python"), "-c",
                              f"import {PACKAGE}.paths as p; print(p.__file__); print(p.DATA_ROOT)"],
                             cwd=elsewhere, check=True, capture_output=True, text=True).stdout
    assert str(REPO_ROOT) not in located and str(installed.parent) in located, located

    url = pg_server.url_for(pg_server.create_database())
    with psycopg.connect(url, autocommit=True) as conn:  # the host's own tables, as a site has
        conn.execute((REPO_ROOT / "db" / "host" / "host_schema.sql").read_text())
    env = {**os.environ, "DATABASE_URL": url, "NOTIFICATIONS_PORT": str(free_port()),
           "NOTIFICATIONS_RETENTION_INTERVAL_HOURS": "0"}
    applied = subprocess.run([str(installed / "notifications"), "migrate", "apply"], env=env,
                             cwd=elsewhere, capture_output=True, text=True)
    assert applied.returncode == 0, applied.stderr
    status = subprocess.run([str(installed / "notifications"), "migrate", "status"], env=env,
                            cwd=elsewhere, capture_output=True, text=True, check=True).stdout
    assert "0005_pair_transition_rows_without_nested_loops" in status, status

    base = f"http://127.0.0.1:{env['NOTIFICATIONS_PORT']}"
    log = (tmp_path / "serve.log").open("wb")
    serving = subprocess.Popen([str(installed / "notifications"), "serve", "--demo"], env=env,
                               cwd=elsewhere, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert serving.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(base + "/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        assert httpx.get(base + "/web/notifications-client.js").status_code == 200
        assert httpx.get(base + "/demo").status_code == 200
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT id FROM users WHERE handle = 'alice'").fetchone()
            assert row is not None
            alice = int(row[0])
            token = httpx.post(base + "/demo/api/token", json={"user_id": alice}).json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            before = httpx.get(base + "/api/notifications/unread-count", headers=headers).json()
            conn.execute("INSERT INTO reactions (post_id, user_id, emoji)"
                         " SELECT p.id, (SELECT id FROM users WHERE handle = 'bob'), '🔥'"
                         "   FROM posts p WHERE p.public_sqid = 'p-alice-1'")
        deadline = time.monotonic() + 10
        while True:
            page = httpx.get(base + "/api/notifications/", headers=headers).json()
            if page["unread_count"] == before["unread_count"] + 1:
                break
            assert time.monotonic() < deadline, page
            time.sleep(0.1)
        assert page["items"][0]["emoji"] == "🔥"
        assert page["items"][0]["actor_handle"] == "bob"
    finally:
        serving.terminate()
        serving.wait(30)
        log.close()
