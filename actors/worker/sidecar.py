"""The per-host sidecar: heartbeats for every tracked run whose process lives, and kill orders executed.

It learns the runs from its worker processes' local notes (``actors.worker.local_runs``), not from Redis.

It runs in ``taskgate worker`` (the supervisor of the Dramatiq pools), outside the worker processes,
so a task blocked in C code that holds the GIL still shows alive while its process lives, and shows
dead (heartbeat 0) as soon as its process is gone. The monitor's hard tier writes kill orders to
``taskgate:kill:{host}``; the sidecar SIGKILLs the worker process and its children (an ffmpeg, a
``sleep``), and the supervisor restarts the pool.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import msgspec
import psutil
import redis
import structlog

from actors.worker.local_runs import LocalRuns
from config import keys
from redis_io import text
from state.live import LiveSettings
from state.tracking import SupervisorInfo, SyncTracker

log = structlog.get_logger(__name__)

# Longest wait for a kill order before the loop looks at heartbeats and settings again.
KILL_POLL_S = 0.25
_RETRY_AFTER_ERROR_S = 1.0
_STARTING_BEAT_S = 0.5


class KillOrder(msgspec.Struct, kw_only=True):
    """An order from the monitor to kill one worker process on this host."""

    pid: int
    run_id: str
    reason: str


def process_alive(pid: int) -> bool:
    """Return whether ``pid`` runs (a zombie counts as gone)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def kill_tree(pid: int) -> list[int]:
    """SIGKILL ``pid`` and every process below it; return the pids that were killed."""
    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    killed = []
    for proc in family:
        try:
            proc.kill()
            killed.append(proc.pid)
        except psutil.NoSuchProcess:
            continue
    return killed


class Sidecar:
    """Heartbeat this host's runs every ``heartbeat.interval`` and execute kill orders at once."""

    def __init__(
        self,
        client: redis.Redis,
        live: LiveSettings,
        host: str,
        worker_pids: Callable[[], list[int]],
        served: SupervisorInfo | None = None,
        *,
        runs: LocalRuns | None = None,
    ) -> None:
        self.client = client
        self.runs = runs if runs is not None else LocalRuns.from_env()  # what this host's workers have in flight
        self.live = live
        self.host = host
        self.worker_pids = worker_pids
        self.served = served
        self.tracker = SyncTracker(client)
        self.workers_up = False
        self._poked = threading.Event()
        self._gone: set[str] = set()
        self._seen: set[str] = set()

    def poke(self) -> None:
        """Heartbeat at the next turn (a worker process just exited)."""
        self._poked.set()

    def beat(self) -> int:
        """Heartbeat every run tracked on this host; return how many.

        A worker process seen before and gone now is marked gone (score 0) after its runs' heartbeats, so
        the monitor recovers its runs first and then puts back the messages it had fetched. So is one that
        registered on this host and died before any beat listed it (killed young).
        """
        noted = self.runs.listed()
        # a run started again on this host (after its first process died) is alive while either process is
        runs = {rid: any(process_alive(pid) for _, pid in notes) for rid, notes in noted.items()}
        workers = [f"{self.host}:{pid}" for pid in self.worker_pids()]
        self._gone |= self._seen - set(workers)
        died_unseen = self._died_unseen(set(workers))
        self._seen = set(workers)
        now_ms, untracked = self.tracker.beat(runs, workers)
        for rid in untracked:  # ended, or recovered by the monitor: only the notes listed above
            for name, _ in noted[rid]:
                self.runs.remove(name)
        self.workers_up = bool(workers)
        if self.served is not None and workers:  # GET /v1/task-types: queues with a live worker, engines ready
            self.tracker.report_supervisor(f"{self.host}:{os.getpid()}", self.served, now_ms)
        if self._gone:
            self.client.zadd(keys.WORKERS, dict.fromkeys(self._gone, 0), xx=True)
            self._gone.clear()
        if died_unseen:  # listed gone whoever registered it: the monitor puts back what it fetched
            self.client.zadd(keys.WORKERS, dict.fromkeys(died_unseen, 0))
        return len(runs)

    def _died_unseen(self, workers: set[str]) -> set[str]:
        """Return the worker processes registered on this host, never seen by a beat, whose process is gone."""
        prefix = f"{self.host}:"
        registered = {text(m) for m in self.client.hkeys(keys.WORKER_CONSUMERS)}  # type: ignore[union-attr]
        unseen = [m for m in registered if m.startswith(prefix) and m not in workers and m not in self._seen]
        return {m for m in unseen if m[len(prefix) :].isdigit() and not process_alive(int(m[len(prefix) :]))}

    def execute(self, raw: bytes | str) -> None:
        """Carry out one kill order, then heartbeat so the killed runs show dead at once."""
        try:
            order = msgspec.json.decode(raw, type=KillOrder)
        except msgspec.DecodeError as exc:
            log.exception("kill_order_invalid", error=str(exc))
            return
        killed = kill_tree(order.pid)
        log.warning("worker_killed", pid=order.pid, run_id=order.run_id, reason=order.reason, killed=killed)
        self.beat()

    def turn(self, wait_s: float) -> None:
        """Wait up to ``wait_s`` for a kill order and execute every one queued."""
        found: Any = self.client.blpop([keys.kill_orders(self.host)], timeout=max(wait_s, 0.01))
        raw: Any = None if found is None else found[1]
        while raw is not None:
            self.execute(raw)
            raw = self.client.lpop(keys.kill_orders(self.host))

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set; Redis errors are logged and retried."""
        next_beat = 0.0
        while not stop.is_set():
            try:
                interval_s = self.live.refresh_sync(self.client).gpu_lock_monitor.heartbeat.interval
                if self._poked.is_set() or time.monotonic() >= next_beat:
                    self._poked.clear()
                    self.beat()
                    # until a worker process shows, look again soon: clients learn the queue is served at once
                    next_beat = time.monotonic() + (
                        interval_s if self.workers_up else min(interval_s, _STARTING_BEAT_S)
                    )
                self.turn(min(KILL_POLL_S, max(0.0, next_beat - time.monotonic())))
            except redis.RedisError as exc:
                log.warning("sidecar_redis_error", error=str(exc))
                stop.wait(_RETRY_AFTER_ERROR_S)
