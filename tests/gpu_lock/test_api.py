"""The public surface: decorator, stage record, engine env, status snapshot, and import-time hygiene."""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from importlib.resources import files

import pytest
import redis
import redis.asyncio as aioredis

from config import keys
from gpu_lock import (
    GpuLock,
    UnknownDevice,
    aread_status,
    current_lease,
    engine_env,
    gpu_lock,
    read_status,
)
from gpu_lock.lease_figures import FLUSH_AFTER_S, bucket_of
from gpu_lock.status import BUCKETS_S
from tests.gpu_lock.helpers import owner, queued, settings, wait_until


def test_lease_record_has_exactly_the_stage_fields_as_iso_utc_strings(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings())
    lease = lock.acquire(owner("recorded"))
    lock.release(lease)

    record = lease.as_record()
    assert set(record) == {"device", "fencing_token", "waited_s", "acquired_at", "released_at", "memory_mb"}
    assert record["device"] == 0
    assert record["fencing_token"] == lease.fencing_token
    for name in ("acquired_at", "released_at"):
        assert record[name].endswith("Z")
        datetime.fromisoformat(record[name])
    assert record["acquired_at"] <= record["released_at"]


def test_engine_env_pins_the_engine_to_the_leased_device(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(devices=[3]))
    lease = lock.acquire(owner("engine"))

    assert lease.engine_env() == {"CUDA_VISIBLE_DEVICES": "3"} == engine_env(3)


def test_unknown_device_is_refused_before_touching_redis(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(devices=[0, 1]))

    with pytest.raises(UnknownDevice):
        lock.acquire(owner("lost"), device=7)
    assert redis_client.dbsize() == 0


def test_decorated_sync_function_runs_while_holding_a_lease(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings())

    @gpu_lock(lock, task_name="transcribe")
    def transcribe(path: str) -> tuple[str, int | None]:
        lease = current_lease()
        return path, lease.device if lease else None

    assert transcribe("a.wav") == ("a.wav", 0)
    assert current_lease() is None
    lock.close()  # adds the waits and holds the lock counted itself (else within a second)
    counters = read_status(redis_client, lock.settings).devices[0].counters
    assert counters["acquisitions_total"] == counters["releases_total"] == 1


def test_decorator_refuses_a_coroutine_function(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings())

    with pytest.raises(TypeError, match="coroutine function"):

        @gpu_lock(lock)
        async def wrong() -> None: ...


def test_status_shows_holders_waiters_counters_and_cumulative_histograms(redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(lease_ttl=5.0))
    first = lock.acquire(owner("first"))
    lock.release(first)
    holder = lock.acquire(owner("holder"))
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(lock.acquire, owner("waiter"), 0)
        wait_until(lambda: queued(redis_client) == 1, what="waiter queued")
        lock.flush_figures()
        device = read_status(redis_client, lock.settings).devices[0]
        lock.release(holder)
        lock.release(waiting.result(timeout=5))

    (shown,) = device.holders
    assert (shown.task_id, shown.task_name, shown.fencing_token) == ("task-holder", "holder", holder.fencing_token)
    assert 0 < shown.ttl_left_s <= 5.0
    assert shown.age_s >= 0
    assert shown.pid > 0
    assert shown.host
    (waiter,) = device.waiters
    assert (waiter.task_id, waiter.position, waiter.requested_device) == ("task-waiter", 0, 0)
    assert device.counters["acquisitions_total"] == 2
    assert device.counters["releases_total"] == 1
    for histogram in (device.wait_seconds, device.hold_seconds):
        counts = [count for _, count in histogram.buckets]
        assert counts == sorted(counts)
        assert histogram.buckets[-1] == ("+Inf", histogram.count)
    assert device.hold_seconds.count == 1


async def test_async_status_reads_the_same_snapshot(aredis: aioredis.Redis, redis_client: redis.Redis) -> None:
    lock = GpuLock(redis_client, settings(devices=[0, 1]))
    lease = lock.acquire(owner("async"), device=1)

    status = await aread_status(aredis, lock.settings)
    assert [len(d.holders) for d in status.devices] == [0, 1]
    assert status.last_fencing_token == lease.fencing_token


def test_the_waits_and_holds_a_lock_counts_itself_reach_redis_within_its_flush_window(
    redis_client: redis.Redis,
) -> None:
    lock = GpuLock(redis_client, settings())
    stats = keys.GPU_STATS.format(device=0)
    for _ in range(3):
        lock.release(lock.acquire(owner("counted")))
    # counted in the process (not by the uncontended scripts) and added by its timer: no flush or close here

    def sent() -> bool:
        counters = read_status(redis_client, lock.settings).devices[0].counters
        return counters["acquisitions_total"] == counters["releases_total"] == 3

    wait_until(sent, timeout_s=FLUSH_AFTER_S + 5, what="the lock's timer adding its figures")
    fields = {f.decode() for f in redis_client.hkeys(stats)}
    assert "wait_seconds_bucket:0.005" in fields  # the labels the Lua observe writes and the readers read
    assert fields <= {f"{name}_bucket:{b:g}" for name in ("wait_seconds", "hold_seconds") for b in BUCKETS_S} | {
        "wait_seconds_ms_sum",
        "hold_seconds_ms_sum",
    }


def test_client_buckets_are_the_lua_ones() -> None:
    assert [bucket_of(ms) for ms in (0, 5, 6, 1000, 1001, 7_200_000, 7_200_001)] == [
        "0.005",
        "0.005",
        "0.01",
        "1",
        "2.5",
        "7200",
        "+Inf",
    ]


def test_histogram_bounds_in_python_match_the_lua_ones() -> None:
    queue = (files("gpu_lock") / "lua" / "queue.lua").read_text("utf-8")
    match = re.search(r"local BUCKETS = \{([^}]*)\}", queue)
    assert match is not None
    assert [float(b) for b in match.group(1).split(",")] == [float(b) for b in BUCKETS_S]


def test_wake_list_prefix_in_lua_matches_the_key_template() -> None:
    lib = (files("gpu_lock") / "lua" / "lib.lua").read_text("utf-8")
    assert f"local WAKE_PREFIX = '{keys.GPU_WAKE.format(waiter_id='')}'" in lib


@pytest.mark.parametrize("name", ["acquire", "renew", "release", "force_release", "leave"])
def test_every_script_opens_with_its_keys_and_argv_contract(name: str) -> None:
    source = (files("gpu_lock") / "lua" / f"{name}.lua").read_text("utf-8")
    assert source.startswith("-- KEYS[1]")
    assert "ARGV[1]" in source.split("\n\n")[0]
    assert "returns" in source.split("\n\n")[0]


def test_importing_the_package_starts_nothing_and_pulls_in_no_web_or_queue_framework() -> None:
    code = (
        "import sys, threading, gpu_lock\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "assert not {'aiohttp', 'dramatiq'} & set(sys.modules), 'framework imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
