"""Run the real service as a subprocess on a free port, for tests that need real sockets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from pg_social_notifications.embedded_db import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-for-notifications-0123456789"
READY_TIMEOUT = 30.0


@dataclass
class RunningService:
    """A `notifications serve` process and how to reach it."""

    database_url: str
    port: int
    secret: str
    workers: int
    demo: bool
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log_file: object = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/notifications/ws"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, *, wait: bool = True) -> None:
        env = {**os.environ, **self.env, "DATABASE_URL": self.database_url,
               "NOTIFICATIONS_JWT_SECRET": self.secret, "NOTIFICATIONS_HOST": "127.0.0.1",
               "NOTIFICATIONS_PORT": str(self.port)}
        args = [sys.executable, "-m", "pg_social_notifications.cli", "serve", "--workers", str(self.workers)]
        if self.demo:
            args.append("--demo")
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log_file = log
        self.process = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            self.wait_ready()

    def wait_listening(self, timeout: float = READY_TIMEOUT) -> None:
        """Until this process serves its port (another may share it: SO_REUSEPORT)."""
        deadline = time.monotonic() + timeout
        while not self._listening():
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited with {self.process.returncode}:\n"
                                   + self.log_text()[-4000:])
            if time.monotonic() > deadline:
                raise TimeoutError("service not listening in time:\n" + self.log_text()[-4000:])
            time.sleep(0.05)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited with {self.process.returncode}:\n"
                                   + self.log_text()[-4000:])
            try:
                if httpx.get(self.base_url + "/health/ready", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError("service not ready in time:\n" + self.log_text()[-4000:])

    def _listening(self) -> bool:
        """Whether this process (or a worker of it) listens on the port."""
        assert self.process is not None
        with suppress(psutil.Error):
            proc = psutil.Process(self.process.pid)
            for each in [proc, *proc.children(recursive=True)]:
                for conn in each.net_connections(kind="tcp"):
                    if conn.status == psutil.CONN_LISTEN and conn.laddr.port == self.port:
                        return True
        return False

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.process is not None
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait(5)
        # Workers started by uvicorn share the process group: make sure none survive.
        self._signal_group(signal.SIGKILL)
        self.process = None
        if self._log_file is not None:
            self._log_file.close()  # type: ignore[attr-defined]
            self._log_file = None

    def kill(self) -> None:
        if self.process is not None:
            self._signal_group(signal.SIGKILL)
            self.process.wait(5)
        self.stop()

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def running_service(database_url: str, *, workers: int = 1, demo: bool = False,
                    env: dict[str, str] | None = None, port: int | None = None,
                    wait: bool = True) -> Iterator[RunningService]:
    """A started service on a free port (or `port`, shared through SO_REUSEPORT), ready
    unless `wait` is False, always stopped afterwards. Sockets are closed at once on
    SIGTERM (no drain window) unless `env` says otherwise."""
    with tempfile.TemporaryDirectory(prefix="notifications-service-") as tmp:
        service = RunningService(
            database_url=database_url, port=port or free_port(), secret=TEST_SECRET,
            workers=workers, demo=demo,
            env={"NOTIFICATIONS_RETENTION_INTERVAL_HOURS": "0",
                 "NOTIFICATIONS_DRAIN_SECONDS": "0", **(env or {})},
            log_path=Path(tmp) / "pg_social_notifications.log")
        try:
            service.start(wait=wait)
            yield service
        finally:
            service.stop()
