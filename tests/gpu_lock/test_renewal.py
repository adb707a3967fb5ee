"""Renewal: held leases outlive their TTL; lost leases are reported, stop the work and are not committed."""

from __future__ import annotations

import pytest
import redis
import redis.asyncio as aioredis

from gpu_lock import (
    GpuLock,
    Lease,
    LeaseExpired,
    LeaseLost,
    LockTimeoutExceeded,
    read_status,
)
from tests.gpu_lock.helpers import holders, owner, server_ms, settings, wait_until

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
