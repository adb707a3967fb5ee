"""Leases weighted by memory: admission while the sum fits, strict FIFO, oversize and bad requests, shrinking."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import msgspec
import pytest
import redis

from actors.gpu_memory import requested_mb
from actors.worker.gpu_devices import parse_memory, with_memory
from config import Settings, keys
from config.gpu import GpuLockSettings
from gpu_lock import GpuLock, HolderInfo, Lease, RequestTooLarge, read_status
from tests.gpu_lock.helpers import queued, settings, wait_until


def weighted(*memory_mb: int, **overrides: Any) -> GpuLockSettings:
    """Return fast lock settings over devices 0.. with the given memory."""
    devices = [{"index": i, "memory_mb": mb} for i, mb in enumerate(memory_mb)]
    return settings(devices=devices, **overrides)


def asking(name: str, memory_mb: int) -> HolderInfo:
    return HolderInfo(task_id=f"task-{name}", task_name=name, memory_mb=memory_mb)


def deadlines(client: redis.Redis) -> dict[bytes, float]:
    """Return each queued waiter's deadline ms."""
    return dict(client.zrange(keys.GPU_WAITER_DEADLINES, 0, -1, withscores=True))  # type: ignore[arg-type]


def test_a_device_admits_holders_while_their_memory_fits(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, weighted(10_000))
    big, small = lock.acquire(asking("big", 6000)), lock.acquire(asking("small", 4000))
    assert (big.device, small.device) == (0, 0)
    assert big.as_record()["memory_mb"] == 6000
    with ThreadPoolExecutor(1) as pool:
        third: Future[Lease] = pool.submit(lock.acquire, asking("third", 1000))
        wait_until(lambda: queued(redis_client) == 1, what="third queued: 10000 MiB are held")
        lock.release(small)
        lease = third.result(timeout=5)
    device = read_status(redis_client, lock.settings).devices[0]
    assert device.capacity == 10_000
    assert sorted(h.amount for h in device.holders) == [1000, 6000]
    lock.release(lease)
    lock.release(big)


def test_a_big_request_at_the_head_is_not_passed_by_smaller_ones(redis_client: redis.Redis) -> None:
    """Strict FIFO: 4000 MiB are free, but the 8000 MiB waiter came first, so the 1000 MiB ones wait behind it."""
    lock = GpuLock(redis_client, weighted(10_000))
    holder = lock.acquire(asking("holder", 6000))
    order: list[str] = []

    def take(name: str, mb: int) -> Lease:
        lease = lock.acquire(asking(name, mb))
        order.append(name)
        return lease

    with ThreadPoolExecutor(3) as pool:
        big = pool.submit(take, "big", 8000)
        wait_until(lambda: queued(redis_client) == 1, what="big queued")
        smalls = [pool.submit(take, f"small{i}", 1000) for i in range(2)]
        wait_until(lambda: queued(redis_client) == 3, what="smalls queued behind big")
        first_tries = deadlines(redis_client)
        wait_until(
            lambda: all(deadlines(redis_client)[w] > d for w, d in first_tries.items()),
            what="every waiter retried (each try refreshes its deadline)",
        )
        assert order == []
        lock.release(holder)
        leases = [big.result(timeout=5), *(s.result(timeout=5) for s in smalls)]
    tokens = [lease.fencing_token for lease in leases]  # fencing tokens count grants in server order
    assert tokens[0] < min(tokens[1:]), f"big was granted after a small one: {tokens}"
    for lease in leases:
        lock.release(lease)


def test_a_request_larger_than_every_device_fails_naming_the_largest(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, weighted(8000, 24_000, reserve_mb=1000))
    with pytest.raises(RequestTooLarge, match="largest is device 1 with 23000 MiB"):
        lock.acquire(asking("huge", 30_000))
    with pytest.raises(RequestTooLarge, match="memory_mb >= 1"):
        lock.acquire(asking("nothing", 0))
    lease = lock.acquire(asking("fits-one", 10_000))  # only device 1 is a candidate
    assert lease.device == 1
    lock.release(lease)


def test_an_any_device_request_takes_the_device_with_the_most_free_memory(redis_client: redis.Redis) -> None:
    # Unheld devices are granted by acquire.lua's fast path (largest first, lowest index on ties); once one is
    # held, the full path compares free memory.
    lock = GpuLock(redis_client, weighted(8000, 24_000, 24_000))
    first = lock.acquire(asking("first", 1000))  # every device unheld: the largest, the lower index of two
    second = lock.acquire(asking("second", 20_000))  # free 8000, 23000, 24000
    third = lock.acquire(asking("third", 16_000))  # free 8000, 23000, 4000
    fourth = lock.acquire(asking("fourth", 1000))  # free 8000, 7000, 4000
    leases = (first, second, third, fourth)
    assert [lease.device for lease in leases] == [1, 2, 1, 0]
    assert len({lease.fencing_token for lease in leases}) == 4
    for lease in leases:
        lock.release(lease)
    assert lock.acquire(asking("again", 1000)).device == 1


def test_slot_counted_devices_give_every_request_one_slot(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(devices=[{"index": 0, "capacity": 2}]))
    first, second = lock.acquire(asking("a", 50_000)), lock.acquire(asking("b", 1))
    assert first.amount == second.amount == 1
    assert first.as_record()["memory_mb"] is None
    lock.release(first)
    lock.release(second)


def test_a_shrunk_capacity_applies_to_new_grants_and_evicts_nobody(redis_client: redis.Redis) -> None:
    before, after = GpuLock(redis_client, weighted(10_000)), GpuLock(redis_client, weighted(5000))
    held = before.acquire(asking("held", 6000))
    with ThreadPoolExecutor(1) as pool:
        newcomer: Future[Lease] = pool.submit(after.acquire, asking("newcomer", 1000))
        wait_until(lambda: queued(redis_client) == 1, what="newcomer queued: 6000 MiB held > 5000")
        before.renew(held)  # still held: nobody is evicted
        after.release(held)
        lease = newcomer.result(timeout=5)
    after.release(lease)


def test_bad_memory_settings_are_refused() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"not above gpu_lock\.reserve_mb"):
        weighted(1000, reserve_mb=1000)
    with pytest.raises(msgspec.ValidationError, match="every device or on none"):
        settings(devices=[{"index": 0, "memory_mb": 8000}, 1])
    with pytest.raises(msgspec.ValidationError, match=">= 1"):
        weighted(-5)


def test_memory_read_from_nvidia_smi_weights_the_devices_less_the_reserve() -> None:
    smi = "0, 81559\n1, 24576\n"
    assert parse_memory(smi) == {0: 81559, 1: 24576}
    base = Settings(gpu_lock=GpuLockSettings(detect_memory=True, reserve_mb=1024))
    detected = with_memory(base, parse_memory(smi))
    assert detected.gpu_lock.capacities() == {0: 80535, 1: 23552}
    only_one = Settings(gpu_lock=settings(detect_memory=True, devices=[1]))
    assert with_memory(only_one, parse_memory(smi)).gpu_lock.capacities() == {1: 24576}
    assert with_memory(Settings(), parse_memory(smi)) == Settings()  # detect_memory off: unchanged
    assert with_memory(base, {}) == base  # no nvidia-smi: unchanged


def test_a_waiter_granted_elsewhere_lets_the_one_behind_it_in_at_once(redis_client: redis.Redis) -> None:
    """W (any device, 8000 MiB) stands first on both devices; S (device 0, 1000 MiB) waits behind it although
    5000 MiB are free there. When W is granted device 1, S is told to retry and gets device 0 long before its
    next poll (5 s)."""
    lock = GpuLock(redis_client, weighted(10_000, 10_000, poll_interval=5.0, max_poll_interval=5.0))
    held = [lock.acquire(asking(f"held{i}", 5000), i) for i in (0, 1)]
    with ThreadPoolExecutor(2) as pool:
        first: Future[Lease] = pool.submit(lock.acquire, asking("any", 8000))
        wait_until(lambda: queued(redis_client, 0) == queued(redis_client, 1) == 1, what="W queued on both")
        second: Future[Lease] = pool.submit(lock.acquire, asking("small", 1000), 0)
        wait_until(lambda: queued(redis_client, 0) == 2, what="S queued behind W")
        lock.release(held[1])
        w = first.result(timeout=5)
        released = time.monotonic()
        s = second.result(timeout=5)
        assert time.monotonic() - released < 2.0, "S waited for its poll instead of being told to retry"
    assert (w.device, s.device) == (1, 0)
    for lease in (w, s, held[0]):
        lock.release(lease)


def test_what_a_task_asks_model_over_task_over_engine_over_registry() -> None:
    from actors.registry import REGISTRY

    whisper, hold = REGISTRY["faster_whisper.transcribe_audio"], REGISTRY["system.gpu_hold"]
    params = whisper.input_type(audio_path="a.wav", model="large-v3")
    table = {"faster_whisper.models.large-v3": 5200, "faster_whisper.transcribe_audio": 900, "faster_whisper": 700}
    for overrides, expected in [
        (table, 5200),
        ({k: v for k, v in table.items() if "models" not in k}, 900),
        ({"faster_whisper": 700}, 700),
        ({}, whisper.gpu_memory_mb),
    ]:
        tuned = Settings(gpu_lock=GpuLockSettings(task_memory_mb=overrides))
        assert requested_mb(whisper, tuned, params) == expected
    assert requested_mb(hold, Settings(), hold.input_type(seconds=1, memory_mb=4321)) == 4321
