"""Run ``python -m taskgate run`` (the whole system: embedded Redis, worker pools, gateway) as a test would."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from taskgate.embedded_redis import free_port
from tests.harness import ROOT, wait_until


class Launch:
    """One ``taskgate run`` on a data directory and storage root, with its output in ``log``."""

    def __init__(self, data_dir: Path, share_dir: Path, log: Path, extra: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {k: v for k, v in os.environ.items() if k != "TASKGATE_REDIS_URL"}
        self.env = {
            **env,
            "TASKGATE_DATA_DIR": str(data_dir),
            "TASKGATE_SHARE_DIR": str(share_dir),
            "TASKGATE_PORT": str(self.port),
            "TASKGATE_EMBEDDED_REDIS_PORT": str(free_port()),
            "TASKGATE_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
            **(extra or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> float:
        """Start it and wait until the gateway answers; return the seconds that took."""
        started = time.monotonic()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "taskgate", "run"],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._healthy, timeout_s, 0.05, "taskgate run's gateway /healthz")
        return time.monotonic() - started

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"taskgate run exited {self.proc.returncode}: {self.output()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=1) as resp:  # noqa: S310
                return bool(resp.status == 200)
        except OSError:
            return False

    def descendants(self) -> list[psutil.Process]:
        """Return every process below ``taskgate run`` (Redis, supervisors, Dramatiq pools, the gateway)."""
        assert self.proc is not None
        return psutil.Process(self.proc.pid).children(recursive=True)

    def signal(self, sig: int) -> None:
        """Send ``sig`` to ``taskgate run`` alone (its children are in process groups of their own)."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout_s: float = 60.0) -> int:
        """Wait for ``taskgate run`` to exit; return its code."""
        assert self.proc is not None
        return self.proc.wait(timeout=timeout_s)

    def output(self) -> str:
        """Return what it and its children printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill_all(self) -> None:
        """SIGKILL it and every process below it at once (nothing gets to clean up)."""
        assert self.proc is not None
        for proc in [psutil.Process(self.proc.pid), *self.descendants()]:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        self.proc.wait(timeout=30)


def freeze(procs: list[psutil.Process]) -> None:
    """SIGSTOP ``procs`` and wait until they are stopped: they hold their place but consume nothing."""
    for proc in procs:
        os.kill(proc.pid, signal.SIGSTOP)
    for proc in procs:
        wait_stopped(proc.pid)


def _thread_states(pid: int) -> list[str]:
    """Return the state letter of every thread of ``pid`` (Linux /proc; a thread that just ended is skipped)."""
    states = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            states.append((task / "stat").read_text().rpartition(")")[2].split()[0])
    return states


def wait_stopped(pid: int, timeout_s: float = 30) -> None:
    """Wait until every thread of ``pid`` is stopped after a SIGSTOP.

    ``kill`` returns once the signal is queued, not once it took effect: each thread stops only when the
    scheduler next runs it, so on a loaded machine the process can go on for a while (a worker's consumer
    thread fetching the next message, say). A test that relies on the process being paused waits for this.
    """
    wait_until(lambda: all(s in ("T", "t") for s in _thread_states(pid)), timeout_s, 0.005, f"process {pid} stopped")
