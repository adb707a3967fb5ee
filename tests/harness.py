"""Start the real processes (gateway, Dramatiq workers) as subprocesses and drive them over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from taskgate.embedded_redis import free_port

ROOT = Path(__file__).resolve().parents[1]
TERMINAL = {"SUCCESS", "FAILED", "CANCELLED"}


def wait_until(predicate: Callable[[], Any], timeout_s: float = 10.0, interval_s: float = 0.02, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or predicate}")
        time.sleep(interval_s)


async def async_wait_until(
    predicate: Callable[[], Any], timeout_s: float = 10.0, interval_s: float = 0.02, what: str = ""
) -> Any:
    """Poll an async ``predicate`` until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or predicate}")
        await asyncio.sleep(interval_s)


def _descendants(pid: int) -> list[int]:
    """Return the pids of every process below ``pid``."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def all_gone(procs: list[psutil.Process]) -> bool:
    """Return whether every one of ``procs`` has exited (a zombie counts as gone: it runs nothing)."""
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                return False
    return True


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


class System:
    """A gateway and worker pools on a given Redis and storage root, with their logs in ``log_dir``."""

    def __init__(self, redis_url: str, share_dir: Path, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.share_dir = share_dir
        self.log_dir = log_dir
        self.env = {
            **os.environ,
            "TASKGATE_REDIS_URL": redis_url,
            "TASKGATE_SHARE_DIR": str(share_dir),
            "TASKGATE_DATA_DIR": str(log_dir / "data"),
            "TASKGATE_PORT": str(self.port),
            "TASKGATE_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        with (self.log_dir / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                args, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs[name] = proc
        return proc

    def start_gateway(self) -> None:
        """Start the gateway and wait until it answers /healthz."""
        self._spawn("gateway", [sys.executable, "-m", "gateway"])
        wait_until(self._healthy, timeout_s=30, what="gateway /healthz")

    def _healthy(self) -> bool:
        import urllib.request

        if self.procs["gateway"].poll() is not None:
            raise AssertionError(f"gateway exited: {self.logs('gateway')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=1) as resp:  # noqa: S310
                return bool(resp.status == 200)
        except OSError:
            return False

    def start_worker(
        self,
        name: str = "worker",
        queues: list[str] | None = None,
        processes: int = 1,
        threads: int = 2,
        supervised: bool = True,
    ) -> subprocess.Popen[bytes]:
        """Start worker processes for ``queues`` (all unless given).

        Supervised (the default, what ``make run`` does): ``taskgate worker`` runs one Dramatiq pool per
        process, restarts a pool whose process dies and runs the host's heartbeat/kill sidecar.
        Unsupervised: a bare ``dramatiq`` pool, without heartbeats.
        """
        entry = ["taskgate", "worker"] if supervised else ["dramatiq", "actors.worker.app:setup"]
        args = [sys.executable, "-m", *entry, "--processes", str(processes), "--threads", str(threads)]
        if queues:
            args += ["--queues", *queues]
        return self._spawn(name, args)

    def worker_pids(self, name: str = "worker") -> list[int]:
        """Return the pids of the worker processes (children of each dramatiq main process)."""
        parents = [self.procs[name].pid]
        if "taskgate" in self.procs[name].args:  # supervised: the dramatiq main processes are one level down
            parents = [pid for parent in parents for pid in _children(parent)]
        return [pid for parent in parents for pid in _children(parent)]

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to a process group and wait for it and every process below it to end.

        A supervisor's pools run in process groups of their own and die with it (their parent-death signal):
        the wait covers them too, so a killed worker is really gone when this returns.
        """
        proc = self.procs.pop(name)
        below = psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        if sig == signal.SIGKILL:  # the whole host dies at once; a SIGTERM is the supervisor's to pass on
            for child in below:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, sig)
        proc.wait(timeout=30)
        wait_until(lambda: all_gone(below), 30, 0.01, f"every process below {name} to exit")

    def logs(self, name: str) -> str:
        """Return what a process has logged so far."""
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, graceful: bool = True) -> None:
        """Stop every process (SIGTERM, then SIGKILL, for whatever a process left behind too).

        ``graceful=False`` kills at once: a test's teardown has nothing left to check, and a graceful stop
        costs seconds per test (Dramatiq's shutdown polls once a second), most of the suite's teardown time.
        """
        if not graceful:
            self.kill_all()
            return
        below = {name: _descendants(proc.pid) for name, proc in self.procs.items()}
        for name in list(self.procs):
            proc = self.procs[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name in list(self.procs):
            try:
                self.procs[name].wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.procs[name].kill()
                self.procs[name].wait()
            with contextlib.suppress(ProcessLookupError):  # anything the leader left behind in its group
                os.killpg(self.procs[name].pid, signal.SIGKILL)
            for pid in below[name]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.procs.clear()

    def kill_all(self) -> None:
        """SIGKILL every process and everything below it, and wait until all are gone."""
        below: list[psutil.Process] = []
        for pid in (pid for proc in self.procs.values() for pid in _descendants(proc.pid)):
            with contextlib.suppress(psutil.NoSuchProcess):
                below.append(psutil.Process(pid))
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        for child in below:
            with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
                child.kill()
        for proc in self.procs.values():
            proc.wait(timeout=30)
        wait_until(lambda: all_gone(below), 30, 0.01, "every process of the system to exit")
        self.procs.clear()


class Client:
    """A small HTTP client for the tests."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
        """Return status, decoded body (JSON when it is), headers."""
        async with self.session.request(method, self.base_url + path, **kwargs) as resp:
            text = await resp.text()
            body: Any = text
            if resp.content_type.endswith("json"):
                body = await resp.json(content_type=None)
            return resp.status, body, dict(resp.headers)

    async def submit(
        self, task_name: str, input_data: dict[str, Any], task_id: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """Submit a task and return its body; fail unless the gateway accepted it."""
        payload: dict[str, Any] = {"task_name": task_name, "input_data": input_data, **extra}
        if task_id:
            payload["task_id"] = task_id
        status, body, _ = await self.request("POST", "/v1/tasks", json=payload)
        assert status in (200, 202), body
        return dict(body)

    async def task(self, task_id: str) -> dict[str, Any]:
        """Return a task's record."""
        status, body, _ = await self.request("GET", f"/v1/tasks/{task_id}")
        assert status == 200, body
        return dict(body)

    async def wait(
        self, task_id: str, timeout_s: float = 60.0, stage: str | None = None, statuses: set[str] = TERMINAL
    ) -> dict[str, Any]:
        """Poll a task (or one stage) until it reaches one of ``statuses``; return the record."""

        async def reached() -> dict[str, Any] | None:
            record = await self.task(task_id)
            current = record["stages"][stage]["status"] if stage else record["status"]
            return record if current in statuses else None

        result: dict[str, Any] = await async_wait_until(reached, timeout_s, 0.05, f"{task_id} in {statuses}")
        return result
