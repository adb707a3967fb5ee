"""Recovery: a dead holder's lease passes on at its TTL; an expired holder cannot touch its successor."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import redis

from config import keys
from gateway.events import decode
from gpu_lock import GpuLock, Lease, LeaseExpired, NotLeaseHolder
from tests.gpu_lock import procs
from tests.gpu_lock.helpers import holders, owner, queued, server_ms, settings, to_builtins, wait_until

TTL_S = 1.0


def test_holder_killed_with_sigkill_hands_over_within_the_ttl(redis_url: str, redis_client: redis.Redis) -> None:
    lock_settings = settings(lease_ttl=TTL_S)
    lock = GpuLock(redis_client, lock_settings)
    doomed = multiprocessing.get_context("spawn").Process(
        target=procs.hold_until_killed, args=(redis_url, to_builtins(lock_settings))
    )
    doomed.start()
    try:
        wait_until(lambda: len(holders(redis_client)) == 1, timeout_s=20, what="doomed holder holds")
        with ThreadPoolExecutor(1) as pool:
            waiter: Future[Lease] = pool.submit(lock.acquire, owner("heir"))
            wait_until(lambda: queued(redis_client) == 1, what="heir queued")
            doomed.kill()
            killed = time.monotonic()
            lease = waiter.result(timeout=10)
            took_s = time.monotonic() - killed
    finally:
        if doomed.is_alive():
            doomed.kill()
    assert took_s <= TTL_S + 0.3
    assert list(holders(redis_client)) == [lease.token]


def _expire(lock: GpuLock, client: redis.Redis) -> Lease:
    stale = lock.acquire(owner("stale"))
    wait_until(lambda: server_ms(client) > stale.expires_at_ms, what="lease expiry")
    return stale


def test_late_release_by_an_expired_holder_leaves_the_new_holder_alone(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(lease_ttl=0.3))
    stale = _expire(lock, redis_client)
    successor = lock.acquire(owner("successor"), max_wait_time=1)

    with pytest.raises(NotLeaseHolder):
        lock.release(stale)
    assert list(holders(redis_client)) == [successor.token]
    assert stale.lost.is_set()
    lock.renew(successor)
    lock.release(successor)


def test_late_renew_by_an_expired_holder_is_refused_and_the_new_holder_keeps_renewing(
    redis_client: redis.Redis,
) -> None:
    lock = GpuLock(redis_client, settings(lease_ttl=0.3))
    stale = _expire(lock, redis_client)
    successor = lock.acquire(owner("successor"), max_wait_time=1)

    with pytest.raises(NotLeaseHolder):
        lock.renew(stale)
    lock.renew(successor)
    assert list(holders(redis_client)) == [successor.token]
    assert successor.fencing_token > stale.fencing_token


def test_expired_lease_nobody_took_yet_can_be_neither_renewed_nor_released(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(lease_ttl=0.3))
    stale = _expire(lock, redis_client)

    with pytest.raises(LeaseExpired):
        lock.renew(stale)
    with pytest.raises(LeaseExpired):
        lock.release(stale)
    assert holders(redis_client) == {}


def test_an_expired_lease_is_a_lease_event_naming_its_holder_at_the_devices_next_lock_call(
    redis_client: redis.Redis,
) -> None:
    lock = GpuLock(redis_client, settings(lease_ttl=0.3))
    stale = _expire(lock, redis_client)
    successor = lock.acquire(owner("successor"), max_wait_time=1)  # its purge drops the stale lease
    entries = [(eid, fields) for eid, fields in redis_client.xrange(keys.EVENTS) if fields[b"action"] == b"expired"]
    assert len(entries) == 1
    event = decode(*entries[0])
    assert (event.type, event.data["device"], event.data["task_id"]) == ("lease", 0, "task-stale")
    assert event.data["fencing_token"] == stale.fencing_token
    assert event.data["expired_at_ms"] == stale.expires_at_ms
    lock.release(successor)
    assert [f[b"action"] for _, f in redis_client.xrange(keys.EVENTS)].count(b"expired") == 1  # counted once
