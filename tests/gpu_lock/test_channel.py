"""The lock's own connections: reused, reconnected when the server dropped them, never shared after a fork."""

from __future__ import annotations

import multiprocessing

import redis

from gpu_lock import GpuLock
from tests.gpu_lock.helpers import owner, settings


def test_connections_are_kept_and_reused(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings())
    for _ in range(20):
        lock.release(lock.acquire(owner("reuse")))
    assert len(lock._channel._idle) == 1  # one connection did all forty calls


def test_script_flushed_on_the_server_is_loaded_again(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings())
    lock.release(lock.acquire(owner("before")))
    redis_client.script_flush()
    lease = lock.acquire(owner("after"))
    assert lease.fencing_token == 2
    lock.release(lease)


def test_connection_killed_while_idle_is_replaced_before_use(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings())
    lock.release(lock.acquire(owner("first")))
    own_id = lock._channel.execute("CLIENT", "ID")  # the lock's one idle connection answers
    assert redis_client.client_kill_filter(_id=own_id) == 1
    lease = lock.acquire(owner("second"))  # no ConnectionError: the dead connection was noticed idle
    lock.release(lease)
    assert lease.fencing_token == 2


def _child(lock: GpuLock, out: multiprocessing.Queue[int]) -> None:
    lease = lock.acquire(owner("child"))
    lock.release(lease)
    out.put(lease.fencing_token)


def test_forked_child_opens_its_own_connections(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings())
    lock.release(lock.acquire(owner("parent")))
    ctx = multiprocessing.get_context("fork")
    out: multiprocessing.Queue[int] = ctx.Queue()
    child = ctx.Process(target=_child, args=(lock, out))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert out.get(timeout=5) == 2
    lease = lock.acquire(owner("parent-again"))  # the parent's connection was not disturbed by the child
    lock.release(lease)
    assert lease.fencing_token == 3


def test_a_dropped_or_closed_lock_gives_its_connections_back(redis_client: redis.Redis) -> None:
    pool = redis_client.connection_pool
    for _ in range(5):  # as a worker does: one lock per GPU task
        lock = GpuLock(redis_client, settings())
        lock.release(lock.acquire(owner("per-task")))
        lock.close()
    for _ in range(5):
        GpuLock(redis_client, settings()).release(GpuLock(redis_client, settings()).acquire(owner("dropped")))
    assert len(pool._in_use_connections) == 0
    assert len(pool._available_connections) <= 2
