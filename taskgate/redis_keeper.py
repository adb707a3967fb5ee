"""``python -m taskgate.redis_keeper PARENT_PID COMMAND...``: the embedded Redis, stopped after its siblings.

``taskgate run`` stops its children in order itself; when it is killed outright, each child gets SIGTERM from
the kernel at once (``taskgate.lifetime``) and Redis would go while the workers still drain. The keeper runs
Redis as its child and notes its siblings (the gateway, the worker supervisors) while the parent lives; once
told to stop, by the parent or by the parent's death, it waits for those siblings to exit (at most
``SIBLINGS_WAIT_S``), then stops Redis, which writes its last snapshot.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psutil

from taskgate.lifetime import STOP_SIGNALS, die_with_parent, guarded

SIBLINGS_WAIT_S = 45.0
_LOOK_EVERY_S = 1.0
_REDIS_STOP_S = 60.0


def _alive(proc: psutil.Process) -> bool:
    try:
        return bool(proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _wait_gone(procs: list[psutil.Process], timeout_s: float) -> None:
    """Wait until none of ``procs`` runs (a zombie left for init to reap counts as gone)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(_alive(p) for p in procs):
        time.sleep(0.1)


def _siblings(parent: psutil.Process) -> list[psutil.Process]:
    try:
        return [p for p in parent.children() if p.pid != os.getpid()]
    except psutil.Error:
        return []


def keep(parent_pid: int, command: list[str]) -> int:
    """Run ``command`` until told to stop, then stop it after the parent's other children; return its code."""
    stop = threading.Event()
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda _signum, _frame: stop.set())
    die_with_parent(signal.SIGTERM, parent_pid)
    server = subprocess.Popen(guarded(command, signal.SIGKILL))
    parent = psutil.Process(parent_pid)
    siblings: list[psutil.Process] = []
    while not stop.wait(_LOOK_EVERY_S):
        if server.poll() is not None:
            return server.returncode
        siblings = _siblings(parent) or siblings
    _wait_gone(siblings, SIBLINGS_WAIT_S)
    server.terminate()
    try:
        return server.wait(timeout=_REDIS_STOP_S)
    except subprocess.TimeoutExpired:
        server.kill()
        return server.wait()


def keeper_command(parent_pid: int) -> list[str]:
    """Return the prefix that runs a command under a keeper for ``parent_pid``."""
    return [sys.executable, "-m", "taskgate.redis_keeper", str(parent_pid)]


if __name__ == "__main__":
    sys.exit(keep(int(sys.argv[1]), sys.argv[2:]))
