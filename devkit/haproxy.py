"""HAProxy in TCP mode in front of several service nodes, for the multi-node tests and bench.

The balancer is Debian's `haproxy`, run in the foreground (`-db`) on a config
generated into a temporary folder: one frontend on a free port, one backend
with a server per node, `balance leastconn` (sockets are long-lived, so the
node with the fewest open connections is the one with room), health checks
on `/health/ready`, and `option redispatch` so that a connection to a node
that has just died is retried on another before the checks notice. Its
admin socket (`stats socket`) answers which node holds which client
connection (`show sess`) and what state each node is in (`show stat`).

docs/haproxy.cfg is the same configuration with production values.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from pg_social_notifications.embedded_db import free_port

HAPROXY_PATHS = ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy")
SESSION_LINE = re.compile(r"\bsrc=[^\s]*:(\d+)\s.*?\bsrv=(\S+)")
FAIL_OPEN = "-open"  # the same node as an unchecked backup server


def find_haproxy() -> str | None:
    """The haproxy binary, if installed (Debian puts it in /usr/sbin, often off a user's PATH)."""
    found = shutil.which("haproxy")
    if found:
        return found
    return next((p for p in HAPROXY_PATHS if os.access(p, os.X_OK)), None)


def ensure_haproxy() -> str | None:
    """haproxy, installed from Debian when missing and we may (root with apt-get), as
    scripts/test.sh does; None when it is absent and cannot be installed."""
    found = find_haproxy()
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "haproxy"]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
        subprocess.run(install, env=env, capture_output=True, check=False)
    return find_haproxy()


def haproxy_or_skip() -> str:
    """haproxy for a test; skips it when haproxy is absent and cannot be installed, except
    in CI (`CI` set), which installs it (scripts/test.sh): there it fails instead."""
    import pytest

    binary = ensure_haproxy()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("haproxy is missing in CI: scripts/test.sh installs it")
        pytest.skip("haproxy is not installed and cannot be installed here (not root, or no"
                    " apt-get): `apt-get install haproxy`, as scripts/test.sh does")
    return binary


def render_config(*, port: int, servers: list[tuple[str, int]], stats_socket: Path,
                  maxconn: int, check_interval: str = "2s") -> str:
    """The balancer's configuration for `servers` (name, port) on 127.0.0.1."""
    lines = [
        "global",
        f"    maxconn {maxconn}",
        f"    stats socket {stats_socket} mode 600 level admin",
        "",
        "defaults",
        "    mode tcp",
        "    timeout connect 2s",
        # Longer than the service's own idle timeout (75 s; clients ping every 25 s):
        # the service decides when a quiet socket is dead, not the balancer.
        "    timeout client 120s",
        "    timeout server 120s",
        # A node busy with a reconnect wave answers its check slowly; failing it then (the
        # default: the check interval) sends its share to the others too, which cascades
        # (measured: every node marked DOWN at once). A dead node refuses at once anyway.
        "    timeout check 5s",
        # A node that refuses (it just died) is retried, on another node.
        "    retries 2",
        "    option redispatch 1",
        "",
        "frontend notifications",
        f"    bind 127.0.0.1:{port}",
        f"    maxconn {maxconn}",
        "    default_backend nodes",
        "",
        "backend nodes",
        "    balance leastconn",
        "    option allbackups",
        "    option httpchk",
        "    http-check send meth GET uri /health/ready ver HTTP/1.1 hdr Host notifications",
        "    http-check expect status 200",
        # Three failed checks in a row: a node must be slow for a while to be taken out
        # (a dead one is avoided before that: its refusals are redispatched).
        f"    default-server check inter {check_interval} fall 3 rise 2",
    ]
    lines += [f"    server {name} 127.0.0.1:{server_port}" for name, server_port in servers]
    # Fail open: when every node fails its check at once (all of them busy absorbing the
    # reconnect wave of a lost node, measured at 4,500 sockets each), route to them
    # anyway, unchecked, and let each node's own admission control pace the wave, rather
    # than refuse every client ("no server available").
    lines += [f"    server {name}{FAIL_OPEN} 127.0.0.1:{server_port} backup no-check"
              for name, server_port in servers]
    return "\n".join(lines) + "\n"


@dataclass
class LoadBalancer:
    """A running haproxy in front of `servers` (name, port); see the module's docstring."""

    binary: str
    servers: list[tuple[str, int]]
    workdir: Path
    maxconn: int = 4096
    check_interval: str = "2s"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def stats_socket(self) -> Path:
        return self.workdir / "haproxy.sock"

    @property
    def config_path(self) -> Path:
        return self.workdir / "haproxy.cfg"

    @property
    def log_path(self) -> Path:
        return self.workdir / "haproxy.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/notifications/ws"

    def start(self, timeout: float = 15.0) -> None:
        """Start haproxy and wait until it accepts and every server is UP."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(render_config(
            port=self.port, servers=self.servers, stats_socket=self.stats_socket,
            maxconn=self.maxconn, check_interval=self.check_interval))
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([self.binary, "-db", "-f", str(self.config_path)],
                                            stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited with {self.process.returncode}:\n"
                                   + self.log_path.read_text(errors="replace")[-3000:])
            try:
                if set(self.server_status().values()) == {"UP"}:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("haproxy: not every server UP in time:\n"
                                   + self.log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # hard stop: closes every connection
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def command(self, line: str) -> str:
        """One command on the admin socket, and its whole answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.stats_socket))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def server_status(self) -> dict[str, str]:
        """Each node's state as the health checks see it: UP, DOWN, 'UP 1/2', ..."""
        text = self.command("show stat").lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {row["svname"]: row["status"] for row in rows
                if row["pxname"] == "nodes" and row["svname"] not in ("FRONTEND", "BACKEND")
                and not row["svname"].endswith(FAIL_OPEN)}

    def sessions(self) -> dict[int, str]:
        """Client port -> the node its connection was forwarded to (forwarded ones only)."""
        held: dict[int, str] = {}
        for line in self.command("show sess").splitlines():
            match = SESSION_LINE.search(line)
            if match and match.group(2) != "<none>":
                held[int(match.group(1))] = match.group(2).removesuffix(FAIL_OPEN)
        return held

    def wait_status(self, server: str, status: str, timeout: float) -> float:
        """Seconds until `server` is in `status` (e.g. DOWN after its node was killed)."""
        started = time.monotonic()
        while self.server_status().get(server) != status:
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"haproxy: {server} not {status} after {timeout:g} s: "
                                   f"{self.server_status()}")
            time.sleep(0.05)
        return time.monotonic() - started
