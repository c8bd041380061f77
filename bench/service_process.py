"""The service under test: `python -m pg_social_notifications.cli serve` as a subprocess."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import suppress
from pathlib import Path

import jwt
import psutil

from bench.common import REPO_ROOT
from pg_social_notifications.embedded_db import free_port

BENCH_SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
MAX_OPEN_FILES = 20_000


def make_token(user_id: int, *, ttl: float = 6 * 3600) -> str:
    """A token as the host signs it: HS256, integer user_id claim, with exp."""
    now = int(time.time())
    return jwt.encode({"user_id": user_id, "iat": now, "exp": now + int(ttl)}, BENCH_SECRET,
                      algorithm="HS256")


def _raise_open_files() -> None:
    """In the child: allow up to 20,000 open files (10k sockets + pool + slack)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else min(MAX_OPEN_FILES, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))


def raise_open_files() -> None:
    _raise_open_files()


class ServiceProcess:
    """One service process on a free port, with its log in `log_path`."""

    def __init__(self, database_url: str, log_path: Path, *, port: int | None = None,
                 env: dict[str, str] | None = None,
                 uvicorn_args: list[str] | None = None, workers: int = 1) -> None:
        self.database_url = database_url
        self.workers = workers
        # Experiments only: run uvicorn on the app factory with these flags
        # instead of `notifications serve` (e.g. another WebSocket implementation).
        self.uvicorn_args = uvicorn_args
        self.log_path = log_path
        self.port = port or free_port()
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

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

    def start(self, timeout: float = 60.0, *, wait: bool = True) -> float:
        """Start and (unless `wait` is False) wait until /health/ready answers 200;
        returns seconds taken."""
        started = time.monotonic()
        env = {**os.environ, "DATABASE_URL": self.database_url,
               "NOTIFICATIONS_JWT_SECRET": BENCH_SECRET, "NOTIFICATIONS_HOST": "127.0.0.1",
               "NOTIFICATIONS_PORT": str(self.port), "NOTIFICATIONS_LOG_LEVEL": "warning",
               "NOTIFICATIONS_RETENTION_INTERVAL_HOURS": "0",
               # SIGTERM closes every socket at once, as a crash would for the clients;
               # bench/deploy.py sets the drain window it measures.
               "NOTIFICATIONS_DRAIN_SECONDS": "0", **self.env}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            command = [sys.executable, "-m", "pg_social_notifications.cli", "serve", "--workers",
                       str(self.workers)]
            if self.uvicorn_args is not None:
                command = [sys.executable, "-m", "uvicorn", "pg_social_notifications.server:app_from_env",
                           "--factory", "--host", "127.0.0.1", "--port", str(self.port),
                           "--log-level", "warning", *self.uvicorn_args]
            self.process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=env,
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=_raise_open_files)
        if wait:
            self.wait_ready(timeout)
        return time.monotonic() - started

    def counter(self, name: str) -> float:
        """A counter's value from the service's /metrics (0 when it has none yet)."""
        with urllib.request.urlopen(self.base_url + "/metrics", timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        return 0.0

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited with {self.process.returncode}:\n"
                                   + self.log_tail())
            # The port must be ours: on a shared machine another program may have taken
            # it between free_port() and our bind, and would answer the probe instead.
            if self._listening():
                with suppress(urllib.error.URLError, OSError), \
                        urllib.request.urlopen(self.base_url + "/health/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            time.sleep(0.05)
        raise TimeoutError("service not ready in time:\n" + self.log_tail())

    def _listening(self) -> bool:
        """Whether our process (or a worker it started) listens on our port."""
        try:
            procs = [psutil.Process(self.pid)]
            procs += procs[0].children(recursive=True)
        except psutil.Error:
            return False
        for proc in procs:
            with suppress(psutil.Error):
                for conn in proc.net_connections(kind="tcp"):
                    if conn.status == psutil.CONN_LISTEN and conn.laddr.port == self.port:
                        return True
        return False

    def log_tail(self, chars: int = 4000) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    def rss_bytes(self) -> int:
        """Resident memory of the service process (and any children it started)."""
        proc = psutil.Process(self.pid)
        total = proc.memory_info().rss
        for child in proc.children(recursive=True):
            with suppress(psutil.Error):
                total += child.memory_info().rss
        return int(total)

    def cpu_seconds(self) -> float:
        """CPU of the service process and any workers it started."""
        proc = psutil.Process(self.pid)
        total = 0.0
        for each in [proc, *proc.children(recursive=True)]:
            with suppress(psutil.Error):
                times = each.cpu_times()
                total += times.user + times.system
        return total

    def open_files(self) -> int:
        """Open descriptors of the service process and any workers it started."""
        total = 0
        for pid in [self.pid, *(c.pid for c in psutil.Process(self.pid).children(recursive=True))]:
            with suppress(OSError):
                total += len(os.listdir(f"/proc/{pid}/fd"))
        return total

    def profile(self, seconds: float, out_path: Path) -> subprocess.Popen[bytes] | None:
        """Sample the service with py-spy for `seconds` (if BENCH_PYSPY=1 and py-spy is
        installed): a collapsed-stack file for flame graphs, and a top-functions text."""
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

    def stop(self, timeout: float = 30.0) -> float:
        """SIGTERM (graceful: sockets are closed with 1001), SIGKILL after `timeout`."""
        if self.process is None:
            return 0.0
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None
        return time.monotonic() - started

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None
