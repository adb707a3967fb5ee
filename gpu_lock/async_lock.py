"""The GPU lease lock on an asyncio Redis client; ``hold`` renews from a task and cancels lost work."""

from __future__ import annotations

import asyncio
import contextvars
import random
import time
from types import TracebackType

from redis.asyncio import Redis
from redis.exceptions import RedisError

from config.gpu import GpuLockSettings
from gpu_lock import events
from gpu_lock.errors import LeaseLost
from gpu_lock.layout import Layout
from gpu_lock.lease import HolderInfo, Lease
from gpu_lock.renewal import OnLost, renew_forever
from gpu_lock.replies import Granted, parse_acquire, parse_outcome
from gpu_lock.scripts import async_scripts
from gpu_lock.waiting import Attempt, block_limit_s, socket_timeout_of
from redis_io import AsyncChannel


class AsyncGpuLock:
    """Lease the configured GPUs from asyncio code; same rules as ``GpuLock``."""

    def __init__(
        self, redis: Redis, settings: GpuLockSettings | None = None, *, rng: random.Random | None = None
    ) -> None:
        self.redis = redis
        self.settings = settings or GpuLockSettings()
        self.layout = Layout(self.settings)
        self._scripts = async_scripts(AsyncChannel(redis))
        self._rng = rng
        self._block_limit_s = block_limit_s(socket_timeout_of(redis.connection_pool))

    async def acquire(self, owner: HolderInfo, device: int | None = None, max_wait_time: float | None = None) -> Lease:
        """Wait for a lease on ``device`` (or any device) and return it.

        Raises:
            LockWaitTimeout: no lease within ``max_wait_time`` (default: the setting).
            UnknownDevice: ``device`` is not configured.
        """
        attempt = Attempt(self.layout, owner, device, max_wait_time, rng=self._rng, block_limit_s=self._block_limit_s)
        try:
            while True:
                sent = time.monotonic()
                outcome = parse_acquire(await self._scripts.acquire(keys=attempt.keys, args=attempt.args()))
                if isinstance(outcome, Granted):
                    return events.acquired(attempt.lease(outcome, sent))
                wait_s = attempt.next_wait_s(outcome)
                if wait_s is None:
                    await self._leave(attempt, timed_out=True)
                    raise events.timed_out(attempt)
                sent = time.monotonic()
                handed_over = attempt.after_wait(await self.redis.blpop([attempt.wake_key], wait_s), sent)
                if handed_over is not None:
                    return events.acquired(handed_over)
        finally:
            if attempt.queued:
                await self._leave(attempt, timed_out=False)

    async def renew(self, lease: Lease) -> None:
        """Extend the lease by one TTL (never past ``lock_timeout`` from its grant).

        Raises:
            LeaseLost: the lease expired, was force-released or reached ``lock_timeout``.
        """
        sent = time.monotonic()
        reply = await self._scripts.renew(
            keys=self.layout.renew_keys(lease.device), args=[lease.token, self.layout.lease_ttl_ms]
        )
        events.renewed(lease, reply, sent)

    async def release(self, lease: Lease) -> None:
        """Give the lease back; the first live waiter gets it at once.

        Raises:
            LeaseLost: the lease was no longer held; nothing was changed for anyone else.
        """
        keys_, device = self.layout.release_call(lease.device)
        reply = await self._scripts.release(keys=keys_, args=[lease.token, lease.acquired_at_ms, device])
        outcome = parse_outcome(reply)
        events.released(lease, outcome)

    async def force_release(self, device: int, fencing_token: int, reason: str) -> bool:
        """Remove the lease with ``fencing_token`` from ``device``, record why, and say whether one was removed.

        Raises:
            UnknownDevice: ``device`` is not configured.
        """
        keys_, args = self.layout.force_release_call(device, fencing_token, reason)
        outcome = parse_outcome(await self._scripts.force_release(keys=keys_, args=args))
        return events.force_released(device, fencing_token, reason, outcome.code == 1)

    def hold(
        self,
        owner: HolderInfo,
        device: int | None = None,
        on_lost: OnLost | None = None,
        max_wait_time: float | None = None,
    ) -> AsyncHold:
        """Return an async context manager that acquires, renews from a task and releases on exit.

        If renewal fails, ``lease.lost`` is set, ``on_lost(lease)`` is called, the body is cancelled
        and ``LeaseLost`` is raised from the ``async with``.
        """
        return AsyncHold(self, owner, device, on_lost, max_wait_time)

    async def _leave(self, attempt: Attempt, timed_out: bool) -> None:
        await self._scripts.leave(keys=attempt.leave_keys(), args=attempt.leave_args(timed_out))


class AsyncHold:
    """``async with lock.hold(owner) as lease``: the lease, renewed, with lost work cancelled."""

    def __init__(
        self,
        lock: AsyncGpuLock,
        owner: HolderInfo,
        device: int | None,
        on_lost: OnLost | None,
        max_wait_time: float | None,
    ) -> None:
        self._lock = lock
        self._args = (owner, device, max_wait_time)
        self._on_lost = on_lost
        self._body: asyncio.Task[object] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._cancelled_body = False
        self._exiting = False
        self._lease: Lease | None = None
        self._token: contextvars.Token[Lease | None] | None = None

    async def __aenter__(self) -> Lease:
        self._lease = lease = await self._lock.acquire(*self._args)
        self._body = asyncio.current_task()
        self._renewer = asyncio.create_task(renew_forever(self._lock.renew, lease, self._lost))
        self._token = events.CURRENT_LEASE.set(lease)
        return lease

    def _lost(self, lease: Lease) -> None:
        if self._on_lost is not None:
            self._on_lost(lease)
        if self._body is not None and not self._exiting:
            self._cancelled_body = True
            self._body.cancel("GPU lease lost")

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._exiting = True
        if self._lease is None or self._renewer is None or self._token is None:
            raise RuntimeError("AsyncHold exited without entering")
        events.CURRENT_LEASE.reset(self._token)
        self._renewer.cancel()
        await asyncio.wait([self._renewer])
        try:
            await self._lock.release(self._lease)
        except LeaseLost:
            pass  # already marked lost; reported below
        except RedisError as error:
            events.release_failed(self._lease, error)
        if self._cancelled_body and self._body is not None:
            self._body.uncancel()
        if exc_type is None or (self._cancelled_body and exc_type is asyncio.CancelledError):
            self._lease.check()
