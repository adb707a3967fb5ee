"""Direct hand-off: a freed slot goes to the first live waiter inside the script that frees it."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import redis

from gpu_lock import GpuLock, Lease, LockWaitTimeout, read_status
from gpu_lock.layout import CLAIM_WINDOW_MS
from gpu_lock.replies import Granted, Queued, parse_acquire
from gpu_lock.scripts import Scripts, sync_scripts
from gpu_lock.waiting import Attempt
from redis_io.channel import Channel
from tests.gpu_lock.helpers import doomed_waiter, holders, owner, queued, server_ms, settings, wait_until


def _queue(lock: GpuLock, scripts: Scripts, name: str) -> Attempt:
    """Queue a waiter by one acquire try, as ``acquire`` does before it blocks."""
    attempt = Attempt(lock.layout, owner(name), 0, 10.0)
    queued_reply = parse_acquire(scripts.acquire(keys=attempt.keys, args=attempt.args()))
    assert isinstance(queued_reply, Queued)
    attempt.next_wait_s(queued_reply)
    return attempt


def test_release_makes_the_first_waiter_the_holder_before_it_asks_again(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(poll_interval=5.0, max_poll_interval=5.0))
    holder = lock.acquire(owner("holder"))
    with ThreadPoolExecutor(1) as pool:
        waiter: Future[Lease] = pool.submit(lock.acquire, owner("waiter"))
        wait_until(lambda: queued(redis_client) == 1, what="waiter queued")
        lock.release(holder)
        (token,) = holders(redis_client)
        assert queued(redis_client) == 0
        lease = waiter.result(timeout=5)
    assert lease.token == token
    assert lease.claim_pending
    assert lease.fencing_token > holder.fencing_token


def test_newcomer_does_not_take_a_slot_handed_to_a_queued_waiter(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings())
    holder = lock.acquire(owner("holder"))
    with ThreadPoolExecutor(1) as pool:
        waiter: Future[Lease] = pool.submit(lock.acquire, owner("waiter"))
        wait_until(lambda: queued(redis_client) == 1, what="waiter queued")
        lock.release(holder)
        with pytest.raises(LockWaitTimeout):
            lock.acquire(owner("newcomer"), max_wait_time=0.2)
        lock.release(waiter.result(timeout=5))
    lock.flush_figures()  # the client counts its own grants and releases, and adds them within a second
    counters = read_status(redis_client, lock.settings).devices[0].counters
    assert counters["acquisitions_total"] == counters["releases_total"] == 2


def test_hold_claims_a_handed_over_lease_for_a_full_ttl_at_once(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(lease_ttl=30.0))
    holder = lock.acquire(owner("holder"))

    def hold() -> float:
        with lock.hold(owner("heir")) as lease:
            wait_until(lambda: not lease.claim_pending, what="claim confirmed")
            return holders(redis_client)[lease.token] - server_ms(redis_client)

    with ThreadPoolExecutor(1) as pool:
        heir = pool.submit(hold)
        wait_until(lambda: queued(redis_client) == 1, what="heir queued")
        lock.release(holder)
        assert heir.result(timeout=5) > 20_000


def test_waiter_killed_after_its_slot_was_handed_over_holds_it_only_for_the_claim_window(
    redis_url: str, redis_client: redis.Redis
) -> None:
    lock_settings = settings(poll_interval=0.3, max_poll_interval=0.3, lease_ttl=30.0)
    lock = GpuLock(redis_client, lock_settings)
    holder = lock.acquire(owner("holder"))
    with doomed_waiter(redis_url, redis_client, lock_settings) as doomed:
        doomed.kill()
        doomed.join(timeout=5)
        lock.release(holder)
        (expiry,) = holders(redis_client).values()
        assert expiry - server_ms(redis_client) <= CLAIM_WINDOW_MS
        released = time.monotonic()
        lease = lock.acquire(owner("next"), max_wait_time=5)
        took_s = time.monotonic() - released
    assert took_s < CLAIM_WINDOW_MS / 1000 + 0.5
    assert read_status(redis_client, lock.settings).devices[0].counters["expired_total"] == 1
    lock.release(lease)


def test_waiter_not_blocked_when_its_slot_arrived_claims_it_on_its_next_try(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(lease_ttl=30.0))
    scripts = sync_scripts(Channel(redis_client))
    holder = lock.acquire(owner("holder"))
    attempt = _queue(lock, scripts, "late")
    lock.release(holder)

    granted = parse_acquire(scripts.acquire(keys=attempt.keys, args=attempt.args()))
    assert isinstance(granted, Granted)
    assert granted.expires_at_ms - granted.now_ms == 30_000
    assert holders(redis_client) == {attempt.token: granted.expires_at_ms}
    assert redis_client.exists(attempt.wake_key) == 0


def test_waiter_that_gives_up_as_its_slot_arrives_passes_it_to_the_next(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings())
    scripts = sync_scripts(Channel(redis_client))
    holder = lock.acquire(owner("holder"))
    quitter, next_one = _queue(lock, scripts, "quitter"), _queue(lock, scripts, "next")
    lock.release(holder)
    assert list(holders(redis_client)) == [quitter.token]

    scripts.leave(keys=quitter.leave_keys(), args=quitter.leave_args(timed_out=True))
    assert list(holders(redis_client)) == [next_one.token]
    assert redis_client.lpop(next_one.wake_key) is not None
    lock.flush_figures()
    counters = read_status(redis_client, lock.settings).devices[0].counters
    assert (counters["acquisitions_total"], counters["releases_total"], counters["timeouts_total"]) == (3, 2, 1)
