"""The GPU lease's mixed workload on one simulated 80 GB device (part of ``bench_gpu_lock``).

A seeded list of jobs (60 % 1 GB held 50 ms, 30 % 5 GB held 200 ms, 10 % 20 GB held 500 ms) is dealt round-robin
to ``WORKERS`` processes; each takes its jobs in turn: acquire, hold for the job's time, release. Three ways to
share the device, on the same jobs:

- ``one_slot``: today's default, one holder at a time (``devices: [0]``);
- ``equal_slots``: N equal slots, N = 80 GB / the largest job = 4, so a 20 GB job always fits its slot;
- ``memory``: leases weighted by memory (``devices: [{index: 0, memory_mb: 81920}]``), each job asking its GB.

Figures: throughput (jobs per second over the span), p50/p99 wait for a lease, and device utilisation: the
memory the jobs held, integrated over time, as a share of 80 GB over the span.
"""

from __future__ import annotations

import multiprocessing
import random
import statistics
import time
from typing import Any

import msgspec
import redis

from config.gpu import GpuLockSettings
from config.logging import configure_logging
from gpu_lock import GpuLock, HolderInfo

DEVICE_MB = 80 * 1024
JOBS = 120
WORKERS = 16
SEED = 28
MIX = ((1024, 0.050, 0.6), (5 * 1024, 0.200, 0.3), (20 * 1024, 0.500, 0.1))  # MiB, hold s, share
SLOTS = DEVICE_MB // max(mb for mb, _, _ in MIX)
KINDS = ("one_slot", "equal_slots", "memory")

Job = tuple[int, float]  # MiB, hold s
Done = tuple[int, int, int, int]  # MiB, asked_ns, acquired_ns, released_ns


def jobs() -> list[Job]:
    """Return the seeded job list."""
    rng = random.Random(SEED)
    return [(mb, hold_s) for mb, hold_s, _ in rng.choices(MIX, weights=[share for _, _, share in MIX], k=JOBS)]


def lock_settings(kind: str) -> GpuLockSettings:
    """Return the lock's settings for one way of sharing the device."""
    shapes: dict[str, list[Any]] = {
        "one_slot": [0],
        "equal_slots": [{"index": 0, "capacity": SLOTS}],
        "memory": [{"index": 0, "memory_mb": DEVICE_MB}],
    }
    raw = {"devices": shapes[kind], "lease_ttl": 30.0, "max_wait_time": 600.0, "poll_interval": 0.05}
    return msgspec.convert(raw, GpuLockSettings)


def _worker(kind: str, url: str, mine: list[Job], *, ready: Any, go: Any, out: Any) -> None:
    configure_logging("console", "warning")
    client = redis.Redis.from_url(url)
    lock = GpuLock(client, lock_settings(kind))
    done: list[Done] = []
    ready.put(1)
    go.wait()
    for i, (mb, hold_s) in enumerate(mine):
        asked = time.monotonic_ns()
        lease = lock.acquire(HolderInfo(task_id=f"job-{i}", task_name=f"job-{mb}", memory_mb=mb))
        acquired = time.monotonic_ns()
        time.sleep(hold_s)
        released = time.monotonic_ns()
        lock.release(lease)
        done.append((mb, asked, acquired, released))
    out.put(done)


def run(kind: str, url: str) -> dict[str, float]:
    """Run the job list under one way of sharing and return its figures."""
    redis.Redis.from_url(url).flushall()
    ctx = multiprocessing.get_context("spawn")
    ready, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    all_jobs = jobs()
    procs = [
        ctx.Process(
            target=_worker, args=(kind, url, all_jobs[w::WORKERS]), kwargs={"ready": ready, "go": go, "out": out}
        )
        for w in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=120)
    go.set()
    done: list[Done] = [d for _ in procs for d in out.get(timeout=900)]
    for proc in procs:
        proc.join()
    start, end = min(d[1] for d in done), max(d[3] for d in done)
    span_s = (end - start) / 1e9
    waits_ms = sorted((acquired - asked) / 1e6 for _, asked, acquired, _ in done)
    held_mb_s = sum(mb * (released - acquired) / 1e9 for mb, _, acquired, released in done)
    peak = _peak_mb(done)
    assert kind != "memory" or peak <= DEVICE_MB, f"memory lease oversubscribed: {peak} MiB"
    return {
        "jobs": len(done),
        "span_s": span_s,
        "throughput": len(done) / span_s,
        "p50_wait_ms": statistics.median(waits_ms),
        "p99_wait_ms": statistics.quantiles(waits_ms, n=100, method="inclusive")[98],
        "utilisation": held_mb_s / (DEVICE_MB * span_s),
        "peak_mb": peak,
    }


def _peak_mb(done: list[Done]) -> int:
    """Return the most memory held at once, from the holders' own clocks."""
    edges = sorted([(a, mb) for mb, _, a, _ in done] + [(r, -mb) for mb, _, _, r in done], key=lambda e: (e[0], e[1]))
    held = peak = 0
    for _, delta in edges:
        held += delta
        peak = max(peak, held)
    return peak


def report(results: dict[str, dict[str, float]]) -> list[tuple[str, bool]]:
    """Print the figures and return the checks (text, passed)."""
    mean_s = sum(hold_s for _, hold_s in jobs()) / JOBS
    print(
        f"mixed workload: {JOBS} jobs (60 % 1 GB/50 ms, 30 % 5 GB/200 ms, 10 % 20 GB/500 ms; mean hold "
        f"{mean_s * 1000:.0f} ms), {WORKERS} workers, one 80 GB device"
    )
    labels = {"one_slot": "one slot (today)", "equal_slots": f"{SLOTS} equal slots", "memory": "memory-weighted"}
    for kind, r in results.items():
        print(
            f"  {labels[kind]:18} throughput={r['throughput']:6.1f} jobs/s  p50 wait={r['p50_wait_ms']:8.1f} ms  "
            f"p99 wait={r['p99_wait_ms']:8.1f} ms  utilisation={r['utilisation'] * 100:5.1f} %  "
            f"peak={r['peak_mb'] / 1024:4.0f} GB  span={r['span_s']:.1f} s"
        )
    mem, one, slots = results["memory"], results["one_slot"], results["equal_slots"]
    return [
        (
            f"memory-weighted throughput {mem['throughput'] / one['throughput']:.1f}x one slot, "
            f"{mem['throughput'] / slots['throughput']:.1f}x {SLOTS} equal slots (> 1x each)",
            mem["throughput"] > one["throughput"] and mem["throughput"] > slots["throughput"],
        ),
        (
            f"memory-weighted p99 wait {mem['p99_wait_ms']:.0f} ms < one slot {one['p99_wait_ms']:.0f} ms",
            mem["p99_wait_ms"] < one["p99_wait_ms"],
        ),
    ]
