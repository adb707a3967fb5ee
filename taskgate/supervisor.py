"""``python -m taskgate worker``: Dramatiq worker pools under a supervisor that runs the host's sidecar.

Each worker process is its own single-process Dramatiq pool (``dramatiq --processes 1``): Dramatiq's
main process stops the whole pool when one of its workers dies, so with one worker per pool a
process killed by the monitor's hard tier takes nobody else's loaded models with it. A pool that
exits is started again at once (with a backoff when it keeps dying young). The sidecar thread
(``actors.worker.sidecar``) heartbeats every run on this host and executes kill orders.

A worker process killed in its boot handshake can leave Dramatiq's main process blocked for good (on the
lock of the boot event, which the dead process held): the supervisor sees its worker a zombie, reports it
gone at once, and kills the pool when it has not reaped it within 5 s, so it restarts.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import psutil
import structlog

from actors.spec import QUEUES
from actors.worker.engines import engine_problems
from actors.worker.local_runs import RUNS_DIR_ENV, LocalRuns
from actors.worker.sidecar import Sidecar
from config import ConfigError, configure_logging, load_settings
from redis_io.clients import close_client, sync_client
from state.live import LiveSettings
from state.tracking import SupervisorInfo
from taskgate.lifetime import STOP_SIGNALS, guarded

log = structlog.get_logger(__name__)

_BACKOFF_S = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0)
# A pool that ran this long before exiting restarts at once; younger ones back off.
_HEALTHY_UPTIME_S = 10.0
_STOP_GRACE_S = 30.0
_WATCH_EVERY_S = 0.1
# Dramatiq's main process waits this long for its worker process to finish booting before it watches it
# (the wait only orders fork processes after workers; we run none). Its default, 30 s, made a worker
# killed while booting, its consumers already fetching, go unnoticed (and its messages unrecovered) for 30 s.
_BOOT_WAIT_MS = 500
# Dramatiq's main process reaps a dead worker within a second (its join timeout) unless it is stuck.
_REAP_WITHIN_S = 5.0


def pool_command(threads: int, queues: list[str] | None) -> list[str]:
    """Return the command of one single-process Dramatiq pool."""
    args = [sys.executable, "-m", "taskgate.pool", "taskgate.pool_entry:setup", "--processes", "1"]
    args += ["--threads", str(threads), "--worker-fork-timeout", str(_BOOT_WAIT_MS)]
    return args + (["--queues", *queues] if queues else [])


class Pool:
    """One Dramatiq pool: its process, start time and restart count."""

    def __init__(self, index: int, args: list[str], reap_within_s: float = _REAP_WITHIN_S) -> None:
        self.index = index
        self.args = args
        self.reap_within_s = reap_within_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.restarts = 0
        self.due = 0.0
        self.dead_since = 0.0  # when a worker process was first seen dead and unreaped (0: none)

    def start(self) -> None:
        """Start (or restart) the pool process.

        In its own process group, so a Ctrl-C reaches only the supervisor, which stops each pool once (a
        second SIGTERM makes Dramatiq kill its workers without draining). SIGKILLed when the supervisor
        dies without stopping it, as a crash of the host would: its messages are requeued.
        """
        self.proc = subprocess.Popen(guarded(self.args, signal.SIGKILL), process_group=0)
        self.started = time.monotonic()
        self.dead_since = 0.0
        log.info("worker_pool_started", pool=self.index, pid=self.proc.pid, restarts=self.restarts)

    def _children(self) -> dict[int, bool]:
        """Return the pool's worker processes (children of Dramatiq's main process): pid -> whether it lives."""
        if self.proc is None or self.proc.poll() is not None:
            return {}
        found = {}
        try:
            for child in psutil.Process(self.proc.pid).children():
                with contextlib.suppress(psutil.NoSuchProcess):
                    found[child.pid] = child.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return {}
        return found

    def worker_pids(self) -> list[int]:
        """Return the pids of the pool's live worker processes (a dead one not reaped yet is gone)."""
        return [pid for pid, alive in self._children().items() if alive]

    def reap_stuck(self) -> None:
        """Kill the pool when a dead worker process of it has gone unreaped for ``reap_within_s``."""
        if self.proc is None or all(self._children().values()):
            self.dead_since = 0.0
            return
        now = time.monotonic()
        self.dead_since = self.dead_since or now
        if now - self.dead_since >= self.reap_within_s:
            log.warning(
                "worker_pool_stuck", pool=self.index, pid=self.proc.pid, dead_for_s=round(now - self.dead_since, 1)
            )
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class Supervisor:
    """Keep ``count`` pools running and the sidecar heartbeating until stopped."""

    def __init__(self, pools: list[Pool], sidecar: Sidecar) -> None:
        self.pools = pools
        self.sidecar = sidecar
        self.stop_event = threading.Event()

    def worker_pids(self) -> list[int]:
        """Return every worker process pid of every pool."""
        return [pid for pool in self.pools for pid in pool.worker_pids()]

    def _check(self, pool: Pool) -> None:
        if pool.proc is not None and pool.proc.poll() is None:
            pool.reap_stuck()
        if pool.proc is None or pool.proc.poll() is None:
            return
        if pool.due == 0.0:
            uptime = time.monotonic() - pool.started
            pool.restarts = 0 if uptime >= _HEALTHY_UPTIME_S else pool.restarts + 1
            delay = _BACKOFF_S[min(pool.restarts, len(_BACKOFF_S) - 1)]
            log.warning("worker_pool_exited", pool=pool.index, code=pool.proc.returncode, restart_in_s=delay)
            pool.due = time.monotonic() + delay
            self.sidecar.poke()
        if time.monotonic() >= pool.due:
            pool.due = 0.0
            pool.start()

    def run(self) -> None:
        """Start the pools and the sidecar; restart pools that exit until ``stop_event`` is set."""
        for pool in self.pools:
            pool.start()
        beat = threading.Thread(target=self.sidecar.run, args=(self.stop_event,), name="sidecar", daemon=True)
        beat.start()
        while not self.stop_event.wait(_WATCH_EVERY_S):
            for pool in self.pools:
                self._check(pool)
        self._stop_pools()
        beat.join(timeout=5)

    def _stop_pools(self) -> None:
        running = [p.proc for p in self.pools if p.proc is not None and p.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE_S
        for proc in running:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker_pool_killed", pid=proc.pid, after_s=_STOP_GRACE_S)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # the whole pool: its workers too, not only its main
                proc.wait()


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="taskgate worker", description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=None, help="worker processes (default: settings)")
    parser.add_argument("--threads", type=int, default=None, help="threads per process (default: settings)")
    parser.add_argument("--queues", nargs="*", default=None, help="queues to serve (default: all)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Run the worker supervisor in the foreground until SIGTERM, SIGINT or SIGHUP; return the exit code."""
    args = _parse(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"taskgate: {exc}", file=sys.stderr)
        return 2
    if not settings.redis_configured:
        print(
            "taskgate: neither TASKGATE_REDIS_URL nor TASKGATE_REDIS_SENTINELS is set: workers need the Redis "
            "the gateway uses",
            file=sys.stderr,
        )
        return 2
    configure_logging(settings.log_format, settings.log_level)
    command = pool_command(args.threads or settings.worker_threads, args.queues)
    pools = [Pool(i, command) for i in range(args.processes or settings.worker_processes)]
    client = sync_client(settings)
    queues = args.queues or list(QUEUES)
    served = SupervisorInfo(queues=queues, engines=engine_problems(settings, queues))
    # the runs the pools' processes have in flight, noted for the sidecar (``actors.worker.local_runs``)
    runs = LocalRuns.make()
    runs_dir = str(runs.folder)
    os.environ[RUNS_DIR_ENV] = runs_dir
    sidecar = Sidecar(client, LiveSettings(settings), socket.gethostname(), list, served, runs=runs)
    supervisor = Supervisor(pools, sidecar)
    supervisor.sidecar.worker_pids = supervisor.worker_pids

    def on_signal(_signum: int, _frame: object) -> None:
        supervisor.stop_event.set()

    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    log.info("worker_supervisor_started", pools=len(pools), pid=os.getpid())
    try:
        supervisor.run()
    finally:
        shutil.rmtree(runs_dir, ignore_errors=True)
    close_client(client)
    log.info("worker_supervisor_stopped")
    return 0
