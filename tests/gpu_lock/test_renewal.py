"""Renewal: held leases outlive their TTL; lost leases are reported, stop the work and are not committed."""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio as aioredis

from gpu_lock import (
    AsyncGpuLock,
    GpuLock,
    Lease,
    LeaseExpired,
    LeaseLost,
    LockTimeoutExceeded,
    aread_status,
    read_status,
)
from tests.gpu_lock.helpers import async_wait_until, holders, owner, server_ms, settings, wait_until

TTL_S = 0.6


def test_hold_keeps_the_lease_alive_well_past_one_ttl(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(lease_ttl=TTL_S))
    with lock.hold(owner("long")) as lease:
        first_expiry_ms = lease.expires_at_ms
        wait_until(lambda: server_ms(redis_client) > first_expiry_ms + 2 * TTL_S * 1000, what="three TTLs")
        assert holders(redis_client)[lease.token] > server_ms(redis_client)
        assert not lease.lost.is_set()
    assert holders(redis_client) == {}


def test_force_released_holder_learns_it_lost_the_lease_and_the_release_is_recorded(
    redis_client: redis.Redis,
) -> None:
    lock = GpuLock(redis_client, settings(lease_ttl=TTL_S))
    told: list[Lease] = []
    held: list[Lease] = []

    def work() -> None:
        with lock.hold(owner("victim"), on_lost=told.append) as lease:
            held.append(lease)
            assert lock.force_release(0, lease.fencing_token, "stuck for 3 h")
            wait_until(lease.lost.is_set, what="lease lost")

    with pytest.raises(LeaseLost):
        work()
    (lease,) = held
    assert told == [lease]
    status = read_status(redis_client, lock.settings)
    assert status.devices[0].counters["force_releases_total"] == 1
    record = status.force_releases[0]
    assert (record.device, record.fencing_token, record.reason, record.task_id) == (
        0,
        lease.fencing_token,
        "stuck for 3 h",
        "task-victim",
    )


def test_force_release_with_a_stale_fencing_token_removes_nothing(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings())
    lease = lock.acquire(owner("current"))

    assert not lock.force_release(0, lease.fencing_token - 1, "stale monitor view")
    assert list(holders(redis_client)) == [lease.token]


def test_renewal_is_refused_after_lock_timeout_and_counted(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(lease_ttl=0.3, lock_timeout=0.5))

    def work() -> None:
        with lock.hold(owner("greedy")) as lease:
            wait_until(lease.lost.is_set, what="lease lost to lock_timeout")
            assert isinstance(lease.lost_reason, LockTimeoutExceeded)

    with pytest.raises(LockTimeoutExceeded):
        work()
    assert read_status(redis_client, lock.settings).devices[0].counters["lock_timeouts_total"] == 1


async def test_async_hold_cancels_the_work_of_a_lost_lease_and_raises_lease_lost(aredis: aioredis.Redis) -> None:
    lock = AsyncGpuLock(aredis, settings(lease_ttl=TTL_S))
    reached_end = False
    held: list[Lease] = []

    async def monitor() -> None:
        await async_wait_until(lambda: aredis.zcard("gpu_lock:0:holders"))
        fencing = (await aread_status(aredis, lock.settings)).devices[0].holders[0].fencing_token
        assert await lock.force_release(0, fencing, "test")

    async def work() -> None:
        nonlocal reached_end
        async with asyncio.timeout(5), lock.hold(owner("async-victim")) as lease:
            held.append(lease)
            await asyncio.Event().wait()  # stands for engine work that only a cancellation stops
            reached_end = True

    watcher = asyncio.create_task(monitor())
    with pytest.raises(LeaseLost):
        await work()
    await watcher
    assert held[0].lost.is_set()
    assert not reached_end
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_async_hold_renews_and_releases(aredis: aioredis.Redis) -> None:
    lock = AsyncGpuLock(aredis, settings(lease_ttl=TTL_S))
    async with lock.hold(owner("async-long")) as lease:
        first_expiry_ms = lease.expires_at_ms
        await async_wait_until(lambda: _expiry_passed(aredis, first_expiry_ms + TTL_S * 1000))
        assert not lease.lost.is_set()
    assert lease.released_at is not None
    assert await aredis.zcard("gpu_lock:0:holders") == 0


async def _expiry_passed(client: aioredis.Redis, moment_ms: float) -> bool:
    seconds, micros = await client.time()
    return int(seconds) * 1000 + int(micros) // 1000 > moment_ms


def test_holder_learns_its_lease_ran_out_while_a_renewal_waits_on_a_silent_redis(
    redis_url: str, redis_client: redis.Redis
) -> None:
    # A partition holds a renewal for the client's socket timeout (5 s by default); the lease expires on
    # the server after one TTL and another holder may get it, so the holder must be told by then.
    client = redis.Redis.from_url(redis_url)
    lock = GpuLock(client, settings(lease_ttl=TTL_S))
    told: list[Lease] = []
    held: list[Lease] = []

    def work() -> None:
        with lock.hold(owner("cut-off"), on_lost=told.append) as lease:
            held.append(lease)
            redis_client.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")  # scripts (renewals) now wait
            try:
                wait_until(lease.lost.is_set, timeout_s=3, what="the lease lost while its renewal waits")
            finally:
                redis_client.execute_command("CLIENT", "UNPAUSE")

    with pytest.raises(LeaseExpired):
        work()
    assert told == held
    lock.close()
    client.close()


async def test_async_holder_learns_its_lease_ran_out_while_a_renewal_waits_on_a_silent_redis(
    redis_url: str, aredis: aioredis.Redis
) -> None:
    client = aioredis.Redis.from_url(redis_url)
    lock = AsyncGpuLock(client, settings(lease_ttl=TTL_S))
    told: list[Lease] = []

    async def work() -> None:
        async with lock.hold(owner("async-cut-off"), on_lost=told.append):
            await aredis.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
            try:
                async with asyncio.timeout(3):
                    await asyncio.Event().wait()  # engine work: only the lost lease's cancellation stops it
            finally:
                await aredis.execute_command("CLIENT", "UNPAUSE")

    with pytest.raises(LeaseExpired):
        await work()
    assert len(told) == 1
    await client.aclose()
