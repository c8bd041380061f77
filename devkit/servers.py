"""The real service as a subprocess on a free port: one runner for the tests and the
benchmarks (`notifications serve`, or uvicorn on the app factory for an experiment)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import psutil

from pg_social_notifications.embedded_db import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
SECRET = "devkit-secret-for-notifications-0123456789"  # the services' and the tokens'
READY_TIMEOUT = 30.0
MAX_OPEN_FILES = 20_000


def raise_open_files() -> None:
    """Allow this process up to 20,000 open files (10k sockets, the pool and slack)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else min(MAX_OPEN_FILES, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))


class ServiceProcess:
    """A `notifications serve` process (in a process group of its own, with its workers)
    and how to reach, measure and stop it."""

    def __init__(self, database_url: str, log_path: Path, *, port: int | None = None,
                 secret: str = SECRET, workers: int = 1, demo: bool = False,
                 env: dict[str, str] | None = None, uvicorn_args: list[str] | None = None,
                 log_level: str = "info") -> None:
        self.database_url = database_url
        self.log_path = log_path
        self.port = port or free_port()
        self.secret = secret
        self.workers = workers
        self.demo = demo
        # No retention run and no drain window unless asked: a test or a bench sets its own.
        # (The benchmarks log warnings only: a log line per socket is I/O they would measure.)
        self.env = {"NOTIFICATIONS_RETENTION_INTERVAL_HOURS": "0",
                    "NOTIFICATIONS_DRAIN_SECONDS": "0", "NOTIFICATIONS_LOG_LEVEL": log_level,
                    **(env or {})}
        # Experiments only: uvicorn on the app factory with these flags instead of
        # `notifications serve` (another WebSocket implementation, say).
        self.uvicorn_args = uvicorn_args
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: object = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/notifications/ws"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, *, wait: bool = True, timeout: float = READY_TIMEOUT) -> float:
        """Start and (unless `wait` is False) wait until /health/ready answers 200 from
        this process; the seconds that took."""
        started = time.monotonic()
        env = {**os.environ, **self.env, "DATABASE_URL": self.database_url,
               "NOTIFICATIONS_JWT_SECRET": self.secret, "NOTIFICATIONS_HOST": "127.0.0.1",
               "NOTIFICATIONS_PORT": str(self.port)}
        args = [sys.executable, "-m", "pg_social_notifications.cli", "serve",
                "--workers", str(self.workers)]
        if self.demo:
            args.append("--demo")
        if self.uvicorn_args is not None:
            args = [sys.executable, "-m", "uvicorn", "pg_social_notifications.server:app_from_env",
                    "--factory", "--host", "127.0.0.1", "--port", str(self.port),
                    "--log-level", "warning", *self.uvicorn_args]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log_file = log
        self.process = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        preexec_fn=raise_open_files)
        if wait:
            self.wait_ready(timeout)
        return time.monotonic() - started

    def wait_listening(self, timeout: float = READY_TIMEOUT) -> None:
        """Until this process serves its port (another may share it: SO_REUSEPORT)."""
        deadline = time.monotonic() + timeout
        while not self._listening():
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError("service not listening in time:\n" + self.log_tail())
            time.sleep(0.05)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Until /health/ready answers 200 on a port this process listens on (on a shared
        machine another program may take a free port first, and would answer instead)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if self._listening():
                with suppress(httpx.HTTPError):
                    if httpx.get(self.base_url + "/health/ready", timeout=1.0).status_code == 200:
                        return
            time.sleep(0.05)
        raise TimeoutError("service not ready in time:\n" + self.log_tail())

    def _check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"service exited with {self.process.returncode}:\n"
                               + self.log_tail())

    def _processes(self) -> list[psutil.Process]:
        """This process and the workers it started."""
        try:
            proc = psutil.Process(self.pid)
            return [proc, *proc.children(recursive=True)]
        except psutil.Error:
            return []

    def _listening(self) -> bool:
        for each in self._processes():
            with suppress(psutil.Error):
                for conn in each.net_connections(kind="tcp"):
                    if conn.status == psutil.CONN_LISTEN and conn.laddr.port == self.port:
                        return True
        return False

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_text()[-chars:]

    def counter(self, name: str) -> float:
        """A counter's value from the service's /metrics (0 when it has none yet)."""
        for line in httpx.get(self.base_url + "/metrics", timeout=5).text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def rss_bytes(self) -> int:
        """Resident memory of the service and its workers."""
        total = 0
        for each in self._processes():
            with suppress(psutil.Error):
                total += each.memory_info().rss
        return total

    def cpu_seconds(self) -> float:
        """CPU time of the service and its workers."""
        total = 0.0
        for each in self._processes():
            with suppress(psutil.Error):
                times = each.cpu_times()
                total += times.user + times.system
        return total

    def open_files(self) -> int:
        """Open descriptors of the service and its workers."""
        total = 0
        for each in self._processes():
            with suppress(OSError):
                total += len(os.listdir(f"/proc/{each.pid}/fd"))
        return total

    def profile(self, seconds: float, out_path: Path) -> subprocess.Popen[bytes] | None:
        """Sample the service with py-spy for `seconds` (if BENCH_PYSPY=1 and py-spy is
        installed), as a collapsed-stack file."""
        if os.environ.get("BENCH_PYSPY") != "1":
            return None
        spy = Path(sys.executable).parent / "py-spy"
        if not spy.exists():
            return None
        return subprocess.Popen(
            [str(spy), "record", "--pid", str(self.pid), "--format", "raw", "--rate", "100",
             "--duration", str(max(1, round(seconds))), "--nonblocking",
             "--output", str(out_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.process is not None
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def stop(self, timeout: float = 10.0) -> float:
        """SIGTERM, then SIGKILL if it does not exit in time; the seconds it took."""
        if self.process is None:
            return 0.0
        started = time.monotonic()
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait(5)
        took = time.monotonic() - started
        # Workers started by uvicorn share the process group: make sure none survive.
        self._signal_group(signal.SIGKILL)
        self.process = None
        if self._log_file is not None:
            self._log_file.close()  # type: ignore[attr-defined]
            self._log_file = None
        return took

    def kill(self) -> None:
        """A crash: SIGKILL to the process and its workers."""
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
                    wait: bool = True) -> Iterator[ServiceProcess]:
    """A started service on a free port (or `port`, shared through SO_REUSEPORT), ready
    unless `wait` is False, always stopped afterwards. Sockets are closed at once on
    SIGTERM (no drain window) unless `env` says otherwise."""
    with tempfile.TemporaryDirectory(prefix="notifications-service-") as tmp:
        service = ServiceProcess(database_url, Path(tmp) / "service.log", port=port,
                                 workers=workers, demo=demo, env=env)
        try:
            service.start(wait=wait)
            yield service
        finally:
            service.stop()
