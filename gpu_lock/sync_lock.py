"""The GPU lease lock on a synchronous Redis client; ``hold`` renews from a background thread."""

from __future__ import annotations

import random
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from redis import Redis
from redis.exceptions import RedisError

from config.gpu import GpuLockSettings
from gpu_lock.errors import LeaseLost
from gpu_lock.events import CURRENT_LEASE, acquired, force_released, release_failed, released, renewed, timed_out
from gpu_lock.layout import Layout
from gpu_lock.lease import HolderInfo, Lease
from gpu_lock.lease_figures import LeaseFigures
from gpu_lock.renewal import OnLost, RenewalThread
from gpu_lock.replies import Granted, parse_acquire, parse_outcome
from gpu_lock.scripts import sync_scripts
from gpu_lock.waiting import Attempt, block_limit_s, socket_timeout_of
from redis_io.channel import Channel


class GpuLock:
    """Lease the configured GPUs: first come, first served, woken on release, fenced."""

    def __init__(
        self, redis: Redis, settings: GpuLockSettings | None = None, *, rng: random.Random | None = None
    ) -> None:
        self.redis = redis
        self.settings = settings or GpuLockSettings()
        self.layout = Layout(self.settings)
        self._channel = Channel(redis)
        self._scripts = sync_scripts(self._channel)
        self._figures = LeaseFigures(redis)
        # A lock dropped without close (or alive at exit) still adds what it counted, when it goes.
        weakref.finalize(self, self._figures.flush)
        self._rng = rng
        self._block_limit_s = block_limit_s(socket_timeout_of(redis.connection_pool))

    def acquire(self, owner: HolderInfo, device: int | None = None, max_wait_time: float | None = None) -> Lease:
        """Wait for a lease on ``device`` (or any device) and return it.

        Raises:
            LockWaitTimeout: no lease within ``max_wait_time`` (default: the setting).
            UnknownDevice: ``device`` is not configured.
        """
        attempt = Attempt(self.layout, owner, device, max_wait_time, rng=self._rng, block_limit_s=self._block_limit_s)
        try:
            while True:
                sent = time.monotonic()
                outcome = parse_acquire(self._scripts.acquire(keys=attempt.keys, args=attempt.args()))
                if isinstance(outcome, Granted):
                    if outcome.fresh:
                        self._figures.observe(self.layout.stats_keys[outcome.device], "wait_seconds", attempt.waited_ms)
                    return acquired(attempt.lease(outcome, sent))
                wait_s = attempt.next_wait_s(outcome)
                if wait_s is None:
                    self._leave(attempt, timed_out=True)
                    raise timed_out(attempt)
                sent = time.monotonic()
                handed_over = attempt.after_wait(self._channel.execute("BLPOP", attempt.wake_key, wait_s), sent)
                if handed_over is not None:
                    return acquired(handed_over)
        finally:
            if attempt.queued:
                self._leave(attempt, timed_out=False)

    def close(self) -> None:
        """Add the waits and holds counted so far, and give the kept connections back (a lock made per task should).

        The client's pool gets the connections; the lock stays usable.
        """
        self._figures.flush()
        self._channel.close()

    def flush_figures(self) -> None:
        """Add the waits and holds of this lock's leases counted so far to Redis now (else within a second)."""
        self._figures.flush()

    def renew(self, lease: Lease) -> None:
        """Extend the lease by one TTL (never past ``lock_timeout`` from its grant).

        Raises:
            LeaseLost: the lease expired, was force-released or reached ``lock_timeout``.
        """
        sent = time.monotonic()
        reply = self._scripts.renew(
            keys=self.layout.renew_keys(lease.device), args=[lease.token, self.layout.lease_ttl_ms]
        )
        renewed(lease, reply, sent)

    def release(self, lease: Lease) -> None:
        """Give the lease back; the first live waiter gets it at once.

        Raises:
            LeaseLost: the lease was no longer held; nothing was changed for anyone else.
        """
        keys_, device = self.layout.release_call(lease.device)
        outcome = parse_outcome(self._scripts.release(keys=keys_, args=[lease.token, device]))
        released(lease, outcome)
        self._figures.observe(
            self.layout.stats_keys[lease.device], "hold_seconds", outcome.now_ms - lease.acquired_at_ms
        )

    def force_release(self, device: int, fencing_token: int, reason: str) -> bool:
        """Remove the lease with ``fencing_token`` from ``device``, record why, and say whether one was removed.

        Raises:
            UnknownDevice: ``device`` is not configured.
        """
        keys_, args = self.layout.force_release_call(device, fencing_token, reason)
        outcome = parse_outcome(self._scripts.force_release(keys=keys_, args=args))
        return force_released(device, fencing_token, reason, outcome.code == 1)

    @contextmanager
    def hold(
        self,
        owner: HolderInfo,
        device: int | None = None,
        on_lost: OnLost | None = None,
        max_wait_time: float | None = None,
    ) -> Iterator[Lease]:
        """Acquire, renew from a thread at a third of the TTL, and release on exit.

        If renewal fails, ``lease.lost`` is set and ``on_lost(lease)`` is called from the renewal thread.

        Raises:
            LockWaitTimeout: no lease within ``max_wait_time``.
            LeaseLost: on exit, when the body finished but the lease had been lost meanwhile.
        """
        lease = self.acquire(owner, device, max_wait_time)
        renewer = RenewalThread(self.renew, lease, on_lost)
        renewer.start()
        token = CURRENT_LEASE.set(lease)
        try:
            yield lease
        finally:
            CURRENT_LEASE.reset(token)
            renewer.stop()
            self._release_quietly(lease)
        lease.check()

    def _release_quietly(self, lease: Lease) -> None:
        try:
            self.release(lease)
        except LeaseLost:
            pass  # already marked lost; the caller learns it from lease.check()
        except (RedisError, OSError) as exc:
            release_failed(lease, exc)

    def _leave(self, attempt: Attempt, timed_out: bool) -> None:
        self._scripts.leave(keys=attempt.leave_keys(), args=attempt.leave_args(timed_out))
