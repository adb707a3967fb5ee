"""The polling safety net: backoff bounds and jitter, wait deadlines and max_wait_time."""

from __future__ import annotations

import random
import time

import pytest
import redis

from gpu_lock import GpuLock, LockWaitTimeout, read_status
from gpu_lock.backoff import Backoff
from gpu_lock.layout import Layout
from gpu_lock.replies import Queued
from gpu_lock.waiting import EXPIRY_SLACK_S, MIN_WAIT_S, Attempt, block_limit_s, socket_timeout_of
from tests.gpu_lock.helpers import owner, queued, settings


def test_backoff_grows_by_the_factor_up_to_max_poll_interval() -> None:
    backoff = Backoff(settings(poll_interval=0.5, max_poll_interval=5.0, backoff_factor=1.5))
    seen = []
    for _ in range(10):
        seen.append(backoff.interval_s)
        backoff.grow()
    assert seen[:4] == pytest.approx([0.5, 0.75, 1.125, 1.6875])
    assert max(seen) == 5.0
    assert seen[-1] == 5.0


def test_backoff_stays_at_poll_interval_when_not_exponential() -> None:
    backoff = Backoff(settings(poll_interval=0.5, max_poll_interval=5.0, exponential_backoff=False))
    for _ in range(5):
        backoff.grow()
    assert backoff.interval_s == 0.5


def test_jitter_spreads_waits_within_its_bounds() -> None:
    backoff = Backoff(settings(poll_interval=1.0, max_poll_interval=1.0, jitter=0.2), random.Random(7))
    waits = [backoff.next_s() for _ in range(500)]
    assert all(0.8 <= w <= 1.2 for w in waits)
    assert max(waits) - min(waits) > 0.3
    assert backoff.upper_bound_s() == pytest.approx(1.2)


def test_wait_is_cut_short_by_the_earliest_expiry_and_by_max_wait_time() -> None:
    attempt = Attempt(Layout(settings(poll_interval=2.0, max_poll_interval=2.0, jitter=0.0)), owner("w"), 0, 10.0)

    assert attempt.next_wait_s(Queued(seq=1, next_expiry_ms=1_300, now_ms=1_000)) == pytest.approx(0.3 + EXPIRY_SLACK_S)
    assert attempt.next_wait_s(Queued(seq=1, next_expiry_ms=0, now_ms=1_000)) == pytest.approx(2.0)
    attempt.deadline = attempt.started
    assert attempt.next_wait_s(Queued(seq=1, next_expiry_ms=0, now_ms=1_000)) is None


def test_wait_past_max_wait_time_fails_with_a_clear_message_and_leaves_the_queue(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings())
    lock.acquire(owner("holder"), device=0)

    with pytest.raises(LockWaitTimeout, match=r"^GPU busy: waited 0\.[3-5] s for device 0$"):
        lock.acquire(owner("impatient"), device=0, max_wait_time=0.3)
    with pytest.raises(LockWaitTimeout, match=r"^GPU busy: waited 0\.[2-4] s for any device$"):
        lock.acquire(owner("impatient"), max_wait_time=0.2)
    status = read_status(redis_client, lock.settings)
    assert status.devices[0].counters["timeouts_total"] == 1
    assert status.any_device_timeouts_total == 1
    assert queued(redis_client) == 0
    assert status.devices[0].waiters == []


def test_default_max_wait_time_comes_from_settings(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(max_wait_time=0.2))
    lock.acquire(owner("holder"))

    with pytest.raises(LockWaitTimeout) as caught:
        lock.acquire(owner("impatient"))
    assert 0.2 <= caught.value.waited_s < 0.5


def test_wait_never_asks_redis_for_under_a_millisecond_which_would_block_forever() -> None:
    attempt = Attempt(Layout(settings()), owner("w"), 0, 10.0)
    attempt.deadline = time.monotonic() + 0.0004

    assert attempt.next_wait_s(Queued(seq=1, next_expiry_ms=0, now_ms=0)) == MIN_WAIT_S >= 0.002


def test_waits_stay_inside_the_clients_socket_timeout(redis_url: str) -> None:
    assert block_limit_s(None) is None
    assert block_limit_s(5) == 4.5
    assert block_limit_s(0.6) == 0.3
    client = redis.Redis.from_url(redis_url, socket_timeout=0.6)
    lock = GpuLock(client, settings(poll_interval=2.0, max_poll_interval=2.0))
    lock.acquire(owner("holder"))

    with pytest.raises(LockWaitTimeout):
        lock.acquire(owner("waiter"), max_wait_time=1.0)
    client.close()


def test_a_url_without_a_socket_timeout_gets_the_connections_default_as_the_wait_limit(redis_url: str) -> None:
    # redis-py 8 gives every connection a 5 s socket timeout that from_url does not write into the pool's
    # kwargs; a waiter that ignored it failed with "Timeout reading from socket" once its poll passed 5 s.
    client = redis.Redis.from_url(redis_url)
    connection = client.connection_pool.get_connection()
    try:
        assert socket_timeout_of(client.connection_pool) == connection.socket_timeout
        assert GpuLock(client, settings())._block_limit_s == block_limit_s(connection.socket_timeout)
    finally:
        client.connection_pool.release(connection)
        client.close()
