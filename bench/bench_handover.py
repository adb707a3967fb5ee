"""Issue 11 benchmark: the hand-over from a stage's end to the start of the stage that waits for its output.

Many two-stage workflows are submitted at once: ``system.gpu_hold`` (a short lease), then ``system.sleep``
whose ``seconds`` is the hold's ``held_s``. The waiter is parked on the hold and queued by the hold's
ending (``state/lua/park_waiter.lua``, ``hand_over.lua``). Figures: p50/p99 from the first stage's end to
the second's start (from the stage records, the server's clock), against the baseline of the same run: from
submit to start of a lone ``system.ping`` on the idle worker (the wake-up path every stage takes); and the
re-queues, i.e. waiter messages handled more than once (target 0; the old path re-queued every 0.5 s).

Run: .venv/bin/python bench/bench_handover.py
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
from pathlib import Path

import aiohttp
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.system import running_system
from tests.harness import Client, System

WORKFLOWS = 20
THREADS = 48  # every message gets a thread at once: the waiters park while their holds run
TARGET_P50_MS = 5.0


def _stage(client: redis.Redis, workflow_id: str, name: str) -> dict:
    return json.loads(client.hget(f"workflow_state:{workflow_id}", f"stage:{name}"))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _chains(client: Client) -> None:
    ids = [f"chain-{i}" for i in range(WORKFLOWS)]
    # holds end 50 ms apart: each figure is one hand-over, not twenty at the same instant on two cores
    holds = (client.submit("system.gpu_hold", {"seconds": 0.5 + 0.05 * i}, task_id=t) for i, t in enumerate(ids))
    await asyncio.gather(*holds)
    ref = {"seconds": "${{ stages.system.gpu_hold.output.held_s }}"}
    await asyncio.gather(*(client.submit("system.sleep", ref, task_id=t) for t in ids))
    for task_id in ids:
        record = await client.wait(task_id, stage="system.sleep", timeout_s=120)
        assert record["stages"]["system.sleep"]["status"] == "SUCCESS", record


async def _pings(client: Client, count: int) -> None:
    for i in range(count):
        await client.submit("system.ping", {}, task_id=f"ping-{i}")
        await client.wait(f"ping-{i}", timeout_s=30)
        await asyncio.sleep(0.05)  # idle between pings: the worker waits on its wake-up list


async def _run(system: System) -> None:
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        await _pings(client, 20)
        await _chains(client)


def main() -> int:
    # one device that takes every hold at once: the figure is the hand-over, not a queue for the GPU
    env = {"TASKGATE_GPU_LOCK__DEVICES": "[{index: 0, capacity: 64}]"}
    with running_system(["system"], threads=THREADS, env=env) as system:
        asyncio.run(_run(system))
        client = redis.Redis.from_url(system.env["TASKGATE_REDIS_URL"])
        handover_ms = [
            _stage(client, f"chain-{i}", "system.sleep")["started_at_ms"]
            - _stage(client, f"chain-{i}", "system.gpu_hold")["finished_at_ms"]
            for i in range(WORKFLOWS)
        ]
        pickup_ms = []
        for i in range(20):
            stage = _stage(client, f"ping-{i}", "system.ping")
            pickup_ms.append(stage["started_at_ms"] - stage["created_at_ms"])
        client.close()
        worker_log = system.logs("worker")
    parks = [json.loads(line) for line in worker_log.splitlines() if '"stage_waiting_for_dependency"' in line]
    parked_ids = [p.get("task_id") for p in parks]
    requeues = len(parked_ids) - len(set(parked_ids))
    p50, p99 = statistics.median(handover_ms), _pct(handover_ms, 0.99)
    base = statistics.median(pickup_ms)
    print(f"{WORKFLOWS} two-stage workflows (system.gpu_hold -> system.sleep on held_s), one worker, {THREADS} threads")
    print(f"hand-over, first stage's end -> second's start: p50 {p50:.1f} ms, p99 {p99:.1f} ms (ms-resolution clock)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"baseline, submit -> start of a lone system.ping on the idle worker: p50 {base:.1f} ms")
    print(f"hand-over p50 / baseline p50 = {p50 / max(base, 1.0):.2f}")
    print(f"waiters parked: {len(set(parked_ids))}, re-queues (a waiter handled more than once): {requeues}")
    passed = p50 <= TARGET_P50_MS and requeues == 0
    print(f"targets p50 <= {TARGET_P50_MS:g} ms and 0 re-queues: {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
