"""Shared test helpers: fast settings, predicates with deadlines, and raw reads of the lock's keys."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.process
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import msgspec
import redis

from config import keys
from config.gpu import GpuLockSettings
from gpu_lock import HolderInfo
from tests.gpu_lock import procs


def settings(**overrides: Any) -> GpuLockSettings:
    """Return lock settings with short poll intervals; the TTL outlasts a slow process spawn.

    Tests of expiry and renewal pass a short ``lease_ttl`` themselves.
    """
    base: dict[str, Any] = {"poll_interval": 0.02, "max_poll_interval": 0.2, "lease_ttl": 10.0, "max_wait_time": 10.0}
    return msgspec.convert({**base, **overrides}, GpuLockSettings)


def to_builtins(value: GpuLockSettings) -> dict[str, Any]:
    """Return settings as plain data, for a spawned child."""
    return dict(msgspec.to_builtins(value))


def owner(name: str) -> HolderInfo:
    """Return a holder identity named for the test actor."""
    return HolderInfo(task_id=f"task-{name}", task_name=name)


def wait_until(predicate: Callable[[], object], timeout_s: float = 5.0, what: str = "condition") -> None:
    """Poll ``predicate`` until it is truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.005)


async def async_wait_until(predicate: Callable[[], Awaitable[object]], timeout_s: float = 5.0) -> None:
    """Poll an async ``predicate`` until it is truthy; fail after ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        while not await predicate():  # noqa: ASYNC110  (the predicate reads Redis: no event to wait on)
            await asyncio.sleep(0.005)


def server_ms(client: redis.Redis) -> int:
    """Return the server's clock in milliseconds."""
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000


def holders(client: redis.Redis, device: int = 0) -> dict[str, float]:
    """Return the device's holders zset as token -> expiry ms."""
    rows: list[tuple[bytes, float]] = client.zrange(keys.gpu_holders(device), 0, -1, withscores=True)  # type: ignore[assignment]
    return {member.decode(): score for member, score in rows}


def queued(client: redis.Redis, device: int = 0) -> int:
    """Return how many waiters stand in the device's queue."""
    return int(client.zcard(keys.GPU_WAITERS.format(device=device)))


@contextlib.contextmanager
def doomed_waiter(
    url: str, client: redis.Redis, lock_settings: GpuLockSettings
) -> Iterator[multiprocessing.process.BaseProcess]:
    """Yield a waiter in another process, queued for device 0, for the test to kill (killed on the way out)."""

    doomed = multiprocessing.get_context("spawn").Process(
        target=procs.wait_until_killed, args=(url, to_builtins(lock_settings))
    )
    doomed.start()
    try:
        wait_until(lambda: queued(client) == 1, timeout_s=20, what="doomed waiter queued")
        yield doomed
    finally:
        if doomed.is_alive():
            doomed.kill()
