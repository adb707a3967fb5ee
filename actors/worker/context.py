"""What a worker process's lifecycle parts share, built once and passed to each of them.

``WorkerContext`` holds the channels and stores (created on first use in the process that uses them, so a
fork never shares a connection), the run tracking, the storage usage, the batch of task figures and the live
settings. The start (``actors.worker.starts``), the endings
(``actors.worker.endings``), each run (``actors.worker.stage_run``) and the figures' writer
(``actors.worker.figures``) take it at construction; none of them reaches into another.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable
from typing import TypeVar

import redis
import structlog
from dramatiq.asyncio import get_event_loop_thread

from actors.worker.heartbeat import RunTracking
from config import Settings
from redis_io.channel import Channel
from redis_io.clients import async_client, sync_client
from state import StateStore
from state.counter_batch import CounterBatch
from state.live import LiveSettings
from state.retention import SyncStorageUsage
from state.sync_store import SyncStageStore
from state.tracking import SyncTracker

T = TypeVar("T")
log = structlog.get_logger(__name__)


class WorkerContext:
    """A worker process's channels, stores, run tracking, storage usage, task figures and live settings."""

    def __init__(self, settings: Settings) -> None:
        self.live = LiveSettings(settings)  # the one owner of this process's settings
        self.host = socket.gethostname()
        self.counters = CounterBatch()  # this process's task figures not written yet (``state.counter_batch``)
        self._store: StateStore | None = None
        self._sync_store: SyncStageStore | None = None
        self._sync_redis: redis.Redis | None = None
        self._tracking: RunTracking | None = None
        self._storage: SyncStorageUsage | None = None

    @property
    def settings(self) -> Settings:
        """Return the settings as the live overrides last adopted make them."""
        return self.live.current

    @property
    def store(self) -> StateStore:
        """Return the asynchronous store (a run's progress and cancel checks), created on first use."""
        if self._store is None:
            self._store = StateStore(async_client(self.settings), self.settings.state_ttl_s)
        return self._store

    @property
    def sync_store(self) -> SyncStageStore:
        """Return the store the hooks use from worker threads, created on first use (fork-safe channel)."""
        if self._sync_store is None:
            self._sync_store = SyncStageStore(Channel(self.sync_redis), self.settings.state_ttl_s, self.counters)
        return self._sync_store

    @property
    def sync_redis(self) -> redis.Redis:
        """Return a synchronous client (GPU lease lock, run tracking, figures), created on first use."""
        if self._sync_redis is None:
            self._sync_redis = sync_client(self.settings)
        return self._sync_redis

    @property
    def tracking(self) -> RunTracking:
        """Return the monitor's run tracking for this host and process, created on first use (fork-safe)."""
        if self._tracking is None:
            self._tracking = RunTracking(SyncTracker(self.sync_redis), self.host, os.getpid())
        return self._tracking

    def adopt_settings(self, version: bytes | None) -> None:
        """Adopt settings changed through ``PUT /v1/monitor/config`` (their version is read with each workflow)."""
        try:
            self.live.adopt_version(version, self.sync_store.channel)
        except redis.RedisError as exc:
            log.warning("live_settings_not_read", error=str(exc))

    def measure_storage(self, workflow_id: str) -> None:
        """Record the bytes the workflow's folder holds now that one of its stages ended."""
        try:
            if self._storage is None:
                self._storage = SyncStorageUsage(self.sync_redis)
            self._storage.measure(self.settings.share_root, workflow_id)
        except (OSError, redis.RedisError) as exc:
            log.warning("storage_not_measured", error=str(exc))

    @staticmethod
    def run_async(coro: Awaitable[T]) -> T:
        """Run a store coroutine on Dramatiq's event loop thread and return its result."""
        loop_thread = get_event_loop_thread()
        if loop_thread is None:
            raise RuntimeError("the AsyncIO middleware must run before the lifecycle")
        return loop_thread.run_coroutine(coro)
