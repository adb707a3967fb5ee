"""Waiting: first come, first served; releases wake the next waiter; dead waiters leave the queue."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import redis

from gpu_lock import GpuLock, Lease, LockWaitTimeout
from tests.gpu_lock.helpers import doomed_waiter, owner, queued, settings, wait_until


def test_waiters_are_served_in_arrival_order(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings())
    holder = lock.acquire(owner("holder"))
    order: list[str] = []

    def wait_then_release(name: str) -> None:
        lease = lock.acquire(owner(name))
        order.append(name)
        lock.release(lease)

    names = [f"w{i}" for i in range(5)]
    with ThreadPoolExecutor(len(names)) as pool:
        futures = []
        for i, name in enumerate(names):
            futures.append(pool.submit(wait_then_release, name))
            expected = i + 1
            wait_until(lambda: queued(redis_client) == expected, what=f"{name} queued")  # noqa: B023
        lock.release(holder)
        for future in futures:
            future.result(timeout=10)
    assert order == names


def test_release_wakes_a_waiter_long_before_its_next_poll(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(poll_interval=5.0, max_poll_interval=5.0, lease_ttl=30.0))
    holder = lock.acquire(owner("holder"))
    with ThreadPoolExecutor(1) as pool:
        waiter: Future[Lease] = pool.submit(lock.acquire, owner("waiter"))
        wait_until(lambda: queued(redis_client) == 1, what="waiter queued")
        released = time.monotonic()
        lock.release(holder)
        lease = waiter.result(timeout=5)
        handed_over_s = time.monotonic() - released
    assert handed_over_s < 0.5
    lock.release(lease)


def test_waiter_killed_while_queued_does_not_block_the_next_one(redis_url: str, redis_client: redis.Redis) -> None:
    lock_settings = settings()
    lock = GpuLock(redis_client, lock_settings)
    holder = lock.acquire(owner("holder"))
    with doomed_waiter(redis_url, redis_client, lock_settings) as doomed, ThreadPoolExecutor(1) as pool:
        survivor: Future[Lease] = pool.submit(lock.acquire, owner("survivor"))
        wait_until(lambda: queued(redis_client) == 2, what="survivor queued")
        doomed.kill()
        doomed.join(timeout=5)
        released = time.monotonic()
        lock.release(holder)
        lease = survivor.result(timeout=10)
        stalled_s = time.monotonic() - released
    assert stalled_s < 2.5  # one second of wake grace plus a poll
    assert queued(redis_client) == 0
    lock.release(lease)


def test_waiter_for_a_busy_device_does_not_block_an_any_device_request(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(devices=[0, 1]))
    holder = lock.acquire(owner("holder"), device=0)
    with ThreadPoolExecutor(1) as pool:
        pinned: Future[Lease] = pool.submit(lock.acquire, owner("pinned"), 0)
        wait_until(lambda: queued(redis_client, 0) == 1, what="pinned waiter queued")
        anywhere = lock.acquire(owner("anywhere"), max_wait_time=1)
        assert anywhere.device == 1
        lock.release(holder)
        assert pinned.result(timeout=5).device == 0


def test_request_for_a_busy_device_waits_even_when_another_is_free(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(devices=[0, 1]))
    lock.acquire(owner("holder"), device=0)

    with pytest.raises(LockWaitTimeout, match=r"GPU busy: waited 0\.[2-4] s for device 0"):
        lock.acquire(owner("pinned"), device=0, max_wait_time=0.25)
    assert lock.acquire(owner("other"), device=1).device == 1


def test_any_device_waiter_takes_whichever_device_frees_first(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(devices=[0, 1]))
    on_0, on_1 = lock.acquire(owner("a"), device=0), lock.acquire(owner("b"), device=1)
    with ThreadPoolExecutor(1) as pool:
        anywhere: Future[Lease] = pool.submit(lock.acquire, owner("anywhere"))
        wait_until(lambda: queued(redis_client, 0) == 1 and queued(redis_client, 1) == 1, what="queued on both")
        lock.release(on_1)
        assert anywhere.result(timeout=5).device == 1
    assert queued(redis_client, 0) == 0
    lock.release(on_0)
