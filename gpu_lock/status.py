"""Read the lock's state and statistics from Redis, from any process: holders, waiters, counters, histograms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from config import keys
from config.gpu import GpuLockSettings
from gpu_lock.layout import Layout, device_keys
from gpu_lock.lease import from_ms, iso_utc
from gpu_lock.task_figures import Footprint, parse_footprints, parse_waits
from redis_io import text, text_map

# Histogram bounds in seconds; lib.lua's BUCKETS must list the same values (a test checks).
BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
COUNTERS = (
    "expired_total",
    "timeouts_total",
    "force_releases_total",
    "lock_timeouts_total",
)


class HolderStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One lease holder of a device."""

    task_id: str
    task_name: str
    host: str
    pid: int
    since: str
    fencing_token: int
    age_s: float
    ttl_left_s: float
    waited_s: float
    amount: int = 1  # what it holds of the device: MiB on memory-weighted devices, else 1 slot
    memory_mb: int = 0  # the MiB it declared (0: none declared)


class WaiterStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One live waiter in a device's queue; ``requested_device`` is None for any-device waits."""

    waiter_id: str
    position: int
    task_id: str
    task_name: str
    host: str
    pid: int
    since: str
    waited_s: float
    requested_device: int | None
    amount: int = 1
    memory_mb: int = 0


class Histogram(msgspec.Struct, frozen=True, kw_only=True):
    """A Prometheus-style histogram: cumulative ``(le, count)`` buckets ending with ``+Inf``."""

    buckets: list[tuple[str, int]]
    sum_s: float
    count: int


class DeviceStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Everything known about one device."""

    device: int
    capacity: int  # lease units: MiB above the reserve on memory-weighted devices, else slots
    by_memory: bool
    held: int  # lease units the valid holders hold
    reserve_mb: int
    holders: list[HolderStatus]
    waiters: list[WaiterStatus]
    counters: dict[str, int]
    wait_seconds: Histogram
    hold_seconds: Histogram


class ForceRelease(msgspec.Struct, frozen=True, kw_only=True):
    """A recorded force release."""

    device: int
    fencing_token: int
    reason: str
    at_ms: int
    task_id: str | None = None
    task_name: str | None = None
    host: str | None = None
    pid: int | None = None
    since_ms: int | None = None


class GpuLockStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of the whole lock, read in one transaction."""

    server_time: str
    last_fencing_token: int
    devices: list[DeviceStatus]
    any_device_timeouts_total: int
    force_releases: list[ForceRelease]
    wait_by_task: dict[str, Histogram] = msgspec.field(default_factory=dict)
    footprints: list[Footprint] = msgspec.field(default_factory=list)


def _queue(pipe: Any, layout: Layout) -> None:
    pipe.time()
    for index in layout.all_devices:
        holders, info, waiters, stats = device_keys(index)
        pipe.zrange(holders, 0, -1, withscores=True)
        pipe.hgetall(info)
        pipe.zrange(waiters, 0, -1)
        pipe.hgetall(stats)
    pipe.zrange(keys.GPU_WAITER_DEADLINES, 0, -1, withscores=True)
    pipe.hgetall(keys.GPU_WAITER_INFO)
    pipe.get(keys.GPU_FENCING)
    pipe.hget(keys.GPU_STATS.format(device=keys.GPU_ANY_DEVICE), "timeouts_total")
    pipe.lrange(keys.GPU_FORCE_RELEASES, 0, -1)
    pipe.hgetall(keys.GPU_TASK_WAITS)
    pipe.hgetall(keys.GPU_FOOTPRINTS)


def _histogram(stats: dict[str, str], name: str) -> Histogram:
    running = 0
    buckets: list[tuple[str, int]] = []
    for bound in (*(f"{b:g}" for b in BUCKETS_S), "+Inf"):
        running += int(stats.get(f"{name}_bucket:{bound}", 0))
        buckets.append((bound, running))
    return Histogram(buckets=buckets, sum_s=int(stats.get(f"{name}_ms_sum", 0)) / 1000, count=running)


def amount_of(token: str) -> int:
    """Return the units a lease token holds (its tail after the last '.'; lib.lua's amount_of)."""
    _, dot, tail = token.rpartition(".")
    return int(tail) if dot and tail.isdigit() else 1


def _holders(zset: Sequence[Any], info: dict[str, str], now_ms: int) -> list[HolderStatus]:
    holders = []
    for token, expiry in zset:
        raw = info.get(text(token))
        if raw is None or expiry <= now_ms:
            continue
        h = msgspec.json.decode(raw)
        holders.append(
            HolderStatus(
                task_id=h["task_id"],
                task_name=h["task_name"],
                host=h["host"],
                pid=h["pid"],
                since=iso_utc(from_ms(h["since_ms"])),
                fencing_token=h["fencing_token"],
                age_s=(now_ms - h["since_ms"]) / 1000,
                ttl_left_s=(expiry - now_ms) / 1000,
                waited_s=h["waited_ms"] / 1000,
                amount=amount_of(text(token)),
                memory_mb=h.get("memory_mb", 0),
            )
        )
    return holders


def _waiters(
    queue: Sequence[Any], deadlines: dict[str, float], info: dict[str, str], now_ms: int
) -> list[WaiterStatus]:
    waiters: list[WaiterStatus] = []
    for member in queue:
        waiter_id = text(member)
        raw = info.get(waiter_id)
        if raw is None or deadlines.get(waiter_id, 0) <= now_ms:
            continue
        w = msgspec.json.decode(raw)
        waiters.append(
            WaiterStatus(
                waiter_id=waiter_id,
                position=len(waiters),
                task_id=w["task_id"],
                task_name=w["task_name"],
                host=w["host"],
                pid=w["pid"],
                since=iso_utc(from_ms(w["since_ms"])),
                waited_s=(now_ms - w["since_ms"]) / 1000,
                requested_device=None if w["device"] < 0 else w["device"],
                amount=amount_of(w["token"]),
                memory_mb=w.get("memory_mb", 0),
            )
        )
    return waiters


def _parse(results: list[Any], layout: Layout) -> GpuLockStatus:
    seconds, micros = results[0]
    now_ms = int(seconds) * 1000 + int(micros) // 1000
    tail = results[1 + 4 * len(layout.all_devices) :]
    deadlines = {text(m): s for m, s in tail[0]}
    waiter_info = text_map(tail[1])
    devices = []
    for i, index in enumerate(layout.all_devices):
        zset, info, queue, raw_stats = results[1 + 4 * i : 5 + 4 * i]
        stats = text_map(raw_stats)
        wait, hold = _histogram(stats, "wait_seconds"), _histogram(stats, "hold_seconds")
        counters = {name: int(stats.get(name, 0)) for name in COUNTERS}
        ended_otherwise = counters["expired_total"] + counters["force_releases_total"]
        holders = _holders(zset, text_map(info), now_ms)
        devices.append(
            DeviceStatus(
                device=index,
                capacity=layout.capacity[index],
                by_memory=layout.by_memory,
                held=sum(h.amount for h in holders),
                reserve_mb=layout.settings.reserve_mb if layout.by_memory else 0,
                holders=holders,
                waiters=_waiters(queue, deadlines, waiter_info, now_ms),
                counters={"acquisitions_total": wait.count, "releases_total": hold.count - ended_otherwise} | counters,
                wait_seconds=wait,
                hold_seconds=hold,
            )
        )
    return GpuLockStatus(
        server_time=iso_utc(from_ms(now_ms)),
        last_fencing_token=int(tail[2] or 0),
        devices=devices,
        any_device_timeouts_total=int(tail[3] or 0),
        force_releases=[msgspec.json.decode(raw, type=ForceRelease) for raw in tail[4]],
        wait_by_task={
            name: Histogram(buckets=buckets, sum_s=sum_s, count=buckets[-1][1])
            for name, (buckets, sum_s) in parse_waits(text_map(tail[5])).items()
        },
        footprints=parse_footprints(text_map(tail[6])),
    )


def read_status(redis: Redis, settings: GpuLockSettings | None = None) -> GpuLockStatus:
    """Return a snapshot of every configured device, read in one MULTI/EXEC."""
    layout = Layout(settings or GpuLockSettings())
    pipe = redis.pipeline(transaction=True)
    _queue(pipe, layout)
    return _parse(pipe.execute(), layout)


async def aread_status(redis: AsyncRedis, settings: GpuLockSettings | None = None) -> GpuLockStatus:
    """Return a snapshot of every configured device, read in one MULTI/EXEC (asyncio client)."""
    layout = Layout(settings or GpuLockSettings())
    pipe = redis.pipeline(transaction=True)
    _queue(pipe, layout)
    return _parse(await pipe.execute(), layout)
