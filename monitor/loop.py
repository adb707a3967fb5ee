"""The monitor coroutine: take the leader lease, then one pass per ``monitor_interval``.

A pass reads only what is due (one script over the heads of the heartbeat and timeout-check sorted sets)
and the lock's holders, so its cost does not grow with the number of healthy runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time

import msgspec
import redis.asyncio as aioredis
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from config import Settings, keys
from monitor.ack_recovery import AckRecovery
from monitor.actions import Actions, Enqueue
from monitor.batches import BatchWatcher
from monitor.leader import Leader, lease_ms
from monitor.locks import LockHealth
from monitor.pending import PendingSweep
from monitor.tiers import due_tiers
from state import StateStore
from state.live import LiveSettings
from state.retention import AsyncRetention
from state.tracking import AsyncTracker, RunInfo

log = structlog.get_logger(__name__)

# Runs acted on per list and pass; more wait for the next pass.
MAX_PER_PASS = 100
# Between passes the monitor looks this often whether the live settings changed (one GET): a corrected
# monitor_interval applies at once instead of after the interval already being waited (up to an hour).
SETTINGS_WATCH_S = 1.0


class PassReport(msgspec.Struct, kw_only=True):
    """What one pass did."""

    now_ms: int
    dead: int = 0
    hard: int = 0
    soft: int = 0
    warning: int = 0
    leases_released: int = 0
    folders_removed: int = 0
    workers_gone: int = 0
    messages_requeued: int = 0
    pending_redelivered: int = 0
    batch_moves_reconciled: int = 0
    facets_dropped: int = 0  # search facet indexes (per key, tenant, label) whose every entry had expired
    duration_s: float = 0.0


class Monitor:
    """Watch heartbeats, tiers and leases; act only while holding the leader lease."""

    def __init__(
        self, client: aioredis.Redis, live: LiveSettings, enqueue: Enqueue | None, identity: str | None = None
    ) -> None:
        settings = live.base
        self.client = client
        self.live = live
        self.store = StateStore(client, settings.state_ttl_s)
        self.tracker = AsyncTracker(client)
        self.actions = Actions(client, self.store, self.tracker, enqueue)
        self.locks = LockHealth(client, self.store)
        self.retention = AsyncRetention(client)
        self.acks = AckRecovery(client)
        self.pending = PendingSweep(client, self.store, enqueue)
        self.leader = Leader(client, identity or f"{socket.gethostname()}:{os.getpid()}")
        self.batches = BatchWatcher(client, settings.batches, settings.state_ttl_s)
        self.leading = False  # the batch watcher follows the events stream only while this is true
        # After Redis was unreachable, silent heartbeats are not dead until a heartbeat timeout has passed
        # with Redis back (the sidecars could not beat either): server ms until then, or None when unknown.
        self._redis_was_away = False
        self._beats_from_ms = 0
        self._versions_seen = (live.version, live.rejected_version)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set (or the task is cancelled); give the lease up on the way out."""
        stop = stop or asyncio.Event()
        log.info("monitor_started", token=self.leader.token)
        with contextlib.suppress(RedisError, OSError):  # Redis away: nothing in flight can be adopted yet anyway
            if adopted := await self.tracker.adopt_unchecked():
                log.info("monitor_runs_adopted", runs=adopted)
        watcher = asyncio.create_task(self.batches.follow(lambda: self.leading), name="batch-watcher")
        try:
            while not stop.is_set():
                interval_s = await self.turn()
                await self._wait(stop, interval_s)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            with contextlib.suppress(RedisError, OSError):
                await asyncio.shield(self.leader.resign())
            log.info("monitor_stopped", token=self.leader.token)

    async def _wait(self, stop: asyncio.Event, interval_s: float) -> None:
        """Wait ``interval_s`` for the next turn; return early when stopped or the live settings change."""
        deadline = time.monotonic() + interval_s
        while (left_s := deadline - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(left_s, SETTINGS_WATCH_S))
            if stop.is_set() or left_s <= SETTINGS_WATCH_S:
                return
            try:
                version = await self.client.get(keys.CONFIG_VERSION)
            except (RedisError, OSError):
                continue  # the next turn says so
            if int(version or 0) not in self._versions_seen:
                log.info("monitor_settings_changed", version=int(version or 0))
                return

    async def turn(self) -> float:
        """Refresh settings, hold or seek the lease, pass if leading; return the seconds to the next turn."""
        settings = self.live.current
        try:
            settings = await self.live.refresh(self.client)
            # the live view is shared with the process's routes (which adopt a change they store themselves):
            # the wait compares against the versions this turn saw, not the view's latest
            self._versions_seen = (self.live.version, self.live.rejected_version)
            if not settings.gpu_lock_monitor.enabled:
                self.leading = False
                await self.leader.resign()
            else:
                self.leading = await self.leader.hold(lease_ms(settings.gpu_lock_monitor.monitor_interval))
                if self.leading:
                    await self.pass_once(settings)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            self.leading = False
            self._redis_was_away = True
            log.warning("monitor_redis_unreachable", error=str(exc))
        except Exception:  # the per-pass guard: a failed pass is logged, the next one runs)
            log.exception("monitor_pass_failed")
        return settings.gpu_lock_monitor.monitor_interval

    async def pass_once(self, settings: Settings) -> PassReport:
        """Act on dead heartbeats, hard, soft and warning tiers, and unhealthy leases."""
        started = time.perf_counter()
        timeout_ms = int(settings.gpu_lock_monitor.heartbeat.timeout * 1000)
        due = await self.tracker.due(timeout_ms, MAX_PER_PASS, self._beats_from_ms)
        if self._redis_was_away:  # first pass with Redis back: give every sidecar a heartbeat timeout to beat
            self._redis_was_away = False
            self._beats_from_ms = due.now_ms + timeout_ms
            log.info("monitor_redis_back", dead_heartbeats_from_ms=self._beats_from_ms)
            due = await self.tracker.due(timeout_ms, MAX_PER_PASS, self._beats_from_ms)
        report = PassReport(now_ms=due.now_ms)
        wanted = {*due.dead, *due.checks}
        runs = await self.tracker.runs(sorted(wanted)) if wanted else {}
        if stale := [rid for rid in wanted if rid not in runs]:
            await self.tracker.forget(stale)
        tiers = due_tiers(runs, due.checks, due.beats, due.now_ms, due.cutoff_ms)
        dead = [*due.dead, *(rid for rid in tiers.dead if rid not in due.dead)]
        stopped = set(dead) | set(tiers.hard)
        jobs = [self.actions.recover_dead(runs[rid], settings) for rid in dead if rid in runs]
        jobs += [
            self.actions.stop_hard(runs[rid], _age(runs[rid], due.now_ms), settings)
            for rid in tiers.hard
            if rid not in dead
        ]
        for tier in ("soft", "warning"):
            chosen = [(runs[rid], _age(runs[rid], due.now_ms)) for rid in tiers.of(tier) if rid not in stopped]
            jobs.append(self.actions.mark_tier(tier, chosen))
        await asyncio.gather(*jobs)
        await self.tracker.check_again({rid: at for rid, at in tiers.again.items() if rid not in stopped})
        report.dead = sum(rid in runs for rid in dead)
        report.hard = sum(rid not in dead for rid in tiers.hard)
        report.soft = sum(rid not in stopped for rid in tiers.soft)
        report.warning = sum(rid not in stopped for rid in tiers.warning)
        report.workers_gone = len(due.dead_workers)  # after their runs: those messages come back superseded
        report.messages_requeued = await self.acks.recover(due.dead_workers, due.cutoff_ms)
        report.pending_redelivered = await self.pending.check(settings.gpu_lock_monitor, due.now_ms)
        report.leases_released = await self.locks.check(settings)
        report.folders_removed = await self.retention.sweep(settings)
        report.batch_moves_reconciled = await self.batches.reconcile_due()
        report.facets_dropped = await self.retention.drop_idle_facets(settings)
        report.duration_s = time.perf_counter() - started
        await self._count_pass(report)
        return report

    async def _count_pass(self, report: PassReport) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hincrby(keys.MONITOR_STATS, "passes_total", 1)
            pipe.hset(
                keys.MONITOR_STATS,
                mapping={
                    "last_pass_ms": report.now_ms,
                    "last_pass_duration_s": f"{report.duration_s:.6f}",
                    "leader": self.leader.token,
                },
            )
            await pipe.execute()


def _age(run: RunInfo, now_ms: int) -> float:
    """Return how long a run has been running, in seconds (by the clock that set its deadlines)."""
    return max(0.0, (now_ms - run.started_ms) / 1000)
