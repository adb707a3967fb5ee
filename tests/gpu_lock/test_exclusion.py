"""Mutual exclusion: real processes and threads contend; no device ever has more holders than slots."""

from __future__ import annotations

import itertools
import json
import multiprocessing
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from gpu_lock import GpuLock, LockWaitTimeout
from tests.gpu_lock import procs
from tests.gpu_lock.helpers import owner, settings, to_builtins, wait_until

PROCESSES = 4
ROUNDS = 30


def _run_processes(redis_url: str, raw: dict[str, object], client: redis.Redis) -> list[dict[str, int]]:
    ctx = multiprocessing.get_context("spawn")
    children = [ctx.Process(target=procs.contend, args=(redis_url, raw, f"p{i}", ROUNDS)) for i in range(PROCESSES)]
    for child in children:
        child.start()
    try:
        wait_until(lambda: int(client.get(procs.READY) or 0) == PROCESSES, timeout_s=30, what="children ready")
        client.lpush(procs.GO, *range(PROCESSES))
        for child in children:
            child.join(timeout=60)
            assert child.exitcode == 0
    finally:
        for child in children:
            if child.is_alive():
                child.kill()
    return [json.loads(row) for row in client.lrange(procs.HOLDS, 0, -1)]


def test_four_processes_never_hold_one_device_at_the_same_time(redis_url: str, redis_client: redis.Redis) -> None:
    holds = _run_processes(redis_url, to_builtins(settings()), redis_client)

    assert len(holds) == PROCESSES * ROUNDS
    assert {h["inside"] for h in holds} == {1}
    holds.sort(key=lambda h: h["acquired_ns"])
    for before, after in itertools.pairwise(holds):
        assert after["acquired_ns"] >= before["released_ns"], (before, after)
        assert after["fencing"] > before["fencing"]
    assert len({h["name"] for h in holds}) == PROCESSES


def test_capacity_two_admits_two_holders_and_refuses_a_third(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(devices=[{"index": 0, "capacity": 2}]))
    first, second = lock.acquire(owner("a")), lock.acquire(owner("b"))

    assert (first.device, second.device) == (0, 0)
    with pytest.raises(LockWaitTimeout):
        lock.acquire(owner("c"), max_wait_time=0.2)
    lock.release(first)
    third = lock.acquire(owner("c"), max_wait_time=2)
    assert third.device == 0
    lock.release(second)
    lock.release(third)


def test_threads_on_a_capacity_two_device_never_exceed_two_holders(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(devices=[{"index": 0, "capacity": 2}]))
    peak = 0

    def work(name: str) -> None:
        nonlocal peak
        for _ in range(15):
            lease = lock.acquire(owner(name))
            inside = int(redis_client.incr("test:inside"))
            peak = max(peak, inside)
            redis_client.decr("test:inside")
            lock.release(lease)

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(work, f"t{i}") for i in range(4)]:
            future.result(timeout=30)
    assert 1 <= peak <= 2


def test_any_device_requests_use_every_device_and_never_overlap_on_one(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(devices=[0, 1]))
    used: set[int] = set()

    def work(name: str) -> None:
        for _ in range(15):
            lease = lock.acquire(owner(name))
            used.add(lease.device)
            assert int(redis_client.incr(f"test:inside:{lease.device}")) == 1
            redis_client.decr(f"test:inside:{lease.device}")
            lock.release(lease)

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(work, f"t{i}") for i in range(4)]:
            future.result(timeout=30)
    assert used == {0, 1}
