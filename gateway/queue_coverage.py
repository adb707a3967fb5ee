"""Which queues have a live worker and whether its engine is configured, from the supervisors' heartbeats."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from config import GpuLockMonitorSettings
from state.tracking import AsyncTracker

# Submits read this view: one Redis round trip a second at most, whatever the submit rate.
_CACHE_S = 1.0


@dataclass
class QueueWorkers:
    """What the live supervisors serving one queue report."""

    supervisors: int = 0
    engine_problems: list[str] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        """Render for ``GET /v1/task-types``."""
        ready = None if not self.supervisors else len(self.engine_problems) < self.supervisors
        problem = self.engine_problems[0] if self.engine_problems else None
        return {"worker_alive": self.supervisors > 0, "engine_ready": ready, "engine_problem": problem}


@dataclass
class WorkerDirectory:
    """A cached view of the live worker supervisors, per queue."""

    queues: dict[str, QueueWorkers] = field(default_factory=dict)
    read_at: float = float("-inf")
    # one read at a time: the submits that find the view stale together wait for that read, not each its own
    _reading: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def get(self, client: aioredis.Redis, settings: GpuLockMonitorSettings) -> dict[str, QueueWorkers]:
        """Return the live supervisors per queue (read at most once per second, whatever the concurrency)."""
        if time.monotonic() - self.read_at < _CACHE_S:
            return self.queues
        async with self._reading:
            if time.monotonic() - self.read_at < _CACHE_S:  # read by the submit that held the lock
                return self.queues
            return await self._read(client, settings)

    async def _read(self, client: aioredis.Redis, settings: GpuLockMonitorSettings) -> dict[str, QueueWorkers]:
        timeout_ms = int(settings.heartbeat.timeout * 1000)
        queues: dict[str, QueueWorkers] = {}
        for info in await AsyncTracker(client).live_supervisors(timeout_ms):
            for queue in info.queues:
                entry = queues.setdefault(queue, QueueWorkers())
                entry.supervisors += 1
                if info.engines.get(queue):
                    entry.engine_problems.append(info.engines[queue])
        self.queues, self.read_at = queues, time.monotonic()
        return queues

    async def warnings(self, client: aioredis.Redis, settings: GpuLockMonitorSettings, queue: str) -> list[str]:
        """Return what a client should know about a task queued on ``queue`` now (no live worker)."""
        if queue in await self.get(client, settings):
            return []
        return [
            f"no live worker serves queue {queue!r}: the task waits in the queue until one starts "
            f"(taskgate worker --queues {queue})"
        ]
