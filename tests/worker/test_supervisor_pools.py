"""The supervisor's pools: a worker process dead and unreaped by its Dramatiq main process is gone at once, and
the stuck pool is killed so the supervisor restarts it (Dramatiq's main can block for good on the boot event's
lock when its worker is killed in the boot handshake)."""

from __future__ import annotations

import os
import signal
import sys
import time

import psutil

from taskgate.supervisor import Pool
from tests.harness import wait_until

# A stand-in for a stuck Dramatiq main process: it forks one worker and never reaps it.
_NEVER_REAPS = "import os, time\nif os.fork() == 0:\n    time.sleep(60)\n    os._exit(0)\ntime.sleep(60)\n"


def _child(pool: Pool) -> int:
    assert pool.proc is not None
    children = psutil.Process(pool.proc.pid).children()
    return children[0].pid if children else 0


def _reaped(pool: Pool) -> bool:
    """Run one supervisor check of ``pool``; return whether its process has exited."""
    pool.reap_stuck()
    assert pool.proc is not None
    return pool.proc.poll() is not None


def test_a_dead_unreaped_worker_is_gone_at_once_and_its_stuck_pool_is_killed() -> None:
    pool = Pool(0, [sys.executable, "-c", _NEVER_REAPS], reap_within_s=1.0)
    pool.start()
    assert pool.proc is not None
    try:
        # the guard (taskgate.lifetime) execs the command: the pool's child is the forked worker
        worker = wait_until(lambda: _child(pool), timeout_s=20, what="the pool's worker process")
        wait_until(lambda: pool.worker_pids() == [worker], timeout_s=10, what="the worker listed while it lives")
        pool.reap_stuck()
        assert pool.proc.poll() is None, "a pool whose workers live is left alone"
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: psutil.Process(worker).status() == psutil.STATUS_ZOMBIE, timeout_s=10, what="a zombie")
        assert pool.worker_pids() == [], "a dead worker its main process has not reaped is not reported alive"
        seen_dead = time.monotonic()
        pool.reap_stuck()
        assert pool.proc.poll() is None, "the main process gets its reap time first"
        wait_until(lambda: _reaped(pool), timeout_s=10, what="the pool killed")
        assert time.monotonic() - seen_dead >= 1.0
        assert pool.proc.returncode == -signal.SIGKILL
    finally:
        if pool.proc.poll() is None:
            os.killpg(pool.proc.pid, signal.SIGKILL)
            pool.proc.wait()
