"""One ``taskgate run`` per data directory: a lock file, and the ports it needs checked before anything starts."""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from config import ConfigError

LOCK_NAME = "taskgate.lock"


class InstanceLock:
    """An exclusive ``flock`` on ``{data_dir}/taskgate.lock``, held while the system runs.

    The kernel drops it when the holder dies, however it dies, so a crash never leaves a stale lock.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock and write this process's pid into the file.

        Raises:
            ConfigError: another process holds it; the message names its pid.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="ascii")  # opened close-on-exec: children never hold it
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise ConfigError(
                f"another taskgate run (pid {holder}) uses the data directory {self.path.parent}; "
                "stop it first, or give this one its own TASKGATE_DATA_DIR and TASKGATE_PORT"
            ) from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        """Drop the lock."""
        if self._file is not None:  # the file stays: unlinking it would let two runs lock two inodes
            self._file.close()
            self._file = None


def check_port_free(host: str, port: int, what: str, setting: str) -> None:
    """Fail unless ``host:port`` can be bound now.

    Raises:
        ConfigError: the port is in use; the message names the setting that moves it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"{what} port {host}:{port} is in use ({exc.strerror}): is taskgate already running? "
                f"Stop it, or choose another port with {setting}"
            ) from None
