"""Bulk retry of 10,000 failed tasks: how long it takes, and what other clients of the gateway see meanwhile.

The failed tasks are made through the state layer (the submit script, then the same compare-and-set moves a
worker makes: RUNNING, then FAILED with an error), which is what 10,000 real failures leave in Redis, in
seconds rather than the minutes real runs would take. No worker runs: the replayed stages stay PENDING with
their messages queued, so the figure is the bulk action's own cost.

Measured: the dry run (count only) and the real ``POST /v1/tasks/retry`` over all 10,000 (pages of 500, one
script call per page); while it runs, another client reads ``GET /v1/tasks/{id}`` in a loop. Baseline, in the
same run: that client's latency with the gateway idle. Target: every task is replayed, and while the bulk
retry runs the other client's p50 stays under 25 ms and no request of it waits 500 ms (the gateway answers
between pages and between the awaits of a page; the bulk work and the other client share one event loop, so
its requests do wait their turn).

Run: .venv/bin/python -m bench bulk
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.system import running_system
from state import StageError, StateStore, changes
from state.search import Origin
from tests.harness import System

TASKS = 10_000
BATCH = 50
IDLE_SAMPLES = 300
TARGET_P50_MS = 25.0
TARGET_MAX_MS = 500.0
LABELS = {"rollout": "bench"}


async def _make_failed(store: StateStore) -> None:
    error = StageError(type="ModelRolloutBroken", message="the new model's weights did not load")
    origin = Origin(key=None, tenant="bench", labels=LABELS)

    async def one(n: int) -> None:
        wid = f"bulk-{n:05d}"
        await store.create_stage(wid, "system.ping", {}, origin=origin)
        await store.update_stage(wid, "system.ping", changes.start)
        await store.update_stage(wid, "system.ping", lambda s: changes.fail(s, error))

    for start in range(0, TASKS, BATCH):
        await asyncio.gather(*(one(n) for n in range(start, min(TASKS, start + BATCH))))


async def _latency_ms(session: aiohttp.ClientSession, url: str) -> float:
    started = time.perf_counter()
    async with session.get(url) as resp:
        await resp.read()
        assert resp.status == 200, resp.status
    return (time.perf_counter() - started) * 1000


def _pct(samples: list[float], q: float) -> float:
    return sorted(samples)[min(len(samples) - 1, int(q * len(samples)))]


async def run(url: str, system: System) -> bool:
    client = aioredis.Redis.from_url(url)
    store = StateStore(client, 7 * 24 * 3600)
    made = time.perf_counter()
    await _make_failed(store)
    print(f"{TASKS} failed tasks made through the state layer in {time.perf_counter() - made:.1f} s")
    base = system.base_url
    probe = f"{base}/v1/tasks/bulk-00000"
    body = {"labels": LABELS, "status": "FAILED"}
    async with aiohttp.ClientSession() as session:
        for _ in range(30):  # warm up
            await _latency_ms(session, probe)
        idle = [await _latency_ms(session, probe) for _ in range(IDLE_SAMPLES)]

        async with session.post(f"{base}/v1/tasks/retry", json={**body, "dry_run": True}) as resp:
            dry = await resp.json()
        print(f"dry run: {dry['count']} of {dry['matched']} would be retried, {dry['elapsed_s']:.2f} s")

        during: list[float] = []
        started = time.perf_counter()
        retry = asyncio.create_task(session.post(f"{base}/v1/tasks/retry", json=body))
        while not retry.done():
            during.append(await _latency_ms(session, probe))
        resp = await retry
        done = await resp.json()
        took = time.perf_counter() - started
    left = len(await client.zrange("taskgate:stages:pending", 0, -1))
    await client.aclose()
    print(
        f"bulk retry: {done['count']} tasks in {took:.2f} s ({done['count'] / took:.0f} tasks/s, "
        f"{done['pages']} pages; {left} stages now PENDING)"
    )
    print(f"other client, idle gateway:      p50 {_pct(idle, 0.5):.2f} ms, p99 {_pct(idle, 0.99):.2f} ms")
    print(
        f"other client, during bulk retry: p50 {_pct(during, 0.5):.2f} ms, p99 {_pct(during, 0.99):.2f} ms, "
        f"max {max(during):.2f} ms ({len(during)} requests)"
    )
    print(
        f"ratio during/idle: p50 {_pct(during, 0.5) / _pct(idle, 0.5):.2f}x, "
        f"p99 {_pct(during, 0.99) / _pct(idle, 0.99):.2f}x"
    )
    ok = done["count"] == TASKS and _pct(during, 0.5) < TARGET_P50_MS and max(during) < TARGET_MAX_MS
    verdict = "met" if ok else "MISSED"
    print(f"target: all {TASKS} retried, p50 < {TARGET_P50_MS:.0f} ms and max < {TARGET_MAX_MS:.0f} ms: {verdict}")
    return ok


def main() -> int:
    env = {"TASKGATE_LOG_LEVEL": "warning", "TASKGATE_GPU_LOCK_MONITOR__ENABLED": "false"}
    with running_system([], env=env, with_worker=False) as system:
        ok = asyncio.run(run(system.env["TASKGATE_REDIS_URL"], system))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
