"""Batches: a batch of 500 ``system.sleep`` items against the same 500 submitted one by one, in the same run.

- accept time: ``POST /v1/batches`` with 500 items until its answer (every item's workflow and message written);
- other clients meanwhile: ``GET /v1/tasks/{id}`` latency (p50/p99) of 4 clients reading in a loop while the
  batch is accepted, against the same clients with no batch (the baseline, measured just before);
- overhead per item: the accept time per item against 500 ``POST /v1/tasks`` one by one (sequential, and 8 at
  a time), and from the submit to the last item ended (the batch: until the batch is COMPLETED, its callback
  count included) against the same for 500 single tasks;
- and, once, the accept time of a batch of 1,000 (the default ``batches.max_items``).

Targets: 500 items accepted in under 5 s; accepting per item no slower than 8 single submits at a time
(ratio <= 1); the other clients' p99 during the accept under 250 ms.

Run: .venv/bin/python bench/bench_batches.py  (or ``python -m bench batches``)
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.system import running_system
from tests.harness import System

ITEMS = 500
MAX_ITEMS = 1000
ROUNDS = 3
READERS = 4
SLEEP_S = 0.0
TARGET_ACCEPT_S = 5.0
TARGET_RATIO = 1.0
TARGET_P99_MS = 250.0


async def _read_loop(session: aiohttp.ClientSession, url: str, stop: asyncio.Event, out: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        async with session.get(url) as resp:
            await resp.read()
            assert resp.status == 200, resp.status
        out.append((time.perf_counter() - started) * 1000)


async def _readers_during(session: aiohttp.ClientSession, base: str, work: Any) -> tuple[Any, list[float]]:
    """Run ``work`` (a coroutine) while READERS clients read a task; return its result and their latencies."""
    latencies: list[float] = []
    stop = asyncio.Event()
    readers = [
        asyncio.create_task(_read_loop(session, f"{base}/v1/tasks/probe", stop, latencies)) for _ in range(READERS)
    ]
    try:
        result = await work
    finally:
        stop.set()
        await asyncio.gather(*readers)
    return result, latencies


async def _idle_window(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def _post_batch(session: aiohttp.ClientSession, base: str, batch_id: str, size: int = ITEMS) -> float:
    body = {"task_name": "system.sleep", "items": [{"seconds": SLEEP_S}] * size, "batch_id": batch_id}
    started = time.perf_counter()
    async with session.post(f"{base}/v1/batches", json=body) as resp:
        answer = await resp.json()
        assert resp.status == 201, answer
    return time.perf_counter() - started


async def _until(predicate: Any, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the work did not end in time")
        await asyncio.sleep(0.02)


async def _batch_done(session: aiohttp.ClientSession, base: str, batch_id: str) -> bool:
    async with session.get(f"{base}/v1/batches/{batch_id}?limit=1") as resp:
        return bool((await resp.json())["status"] == "COMPLETED")


async def _one_by_one(session: aiohttp.ClientSession, base: str, prefix: str, at_once: int) -> float:
    body = {"task_name": "system.sleep", "input_data": {"seconds": SLEEP_S}}
    left = iter(range(ITEMS))

    async def submitter() -> None:
        for index in left:
            async with session.post(f"{base}/v1/tasks", json={**body, "task_id": f"{prefix}-{index}"}) as resp:
                await resp.read()
                assert resp.status == 202, resp.status

    started = time.perf_counter()
    await asyncio.gather(*(submitter() for _ in range(at_once)))
    return time.perf_counter() - started


async def _singles_done(session: aiohttp.ClientSession, base: str, prefix: str) -> bool:
    # every task of the prefix has ended: read the last ones submitted first (they end last)
    for index in range(ITEMS - 1, -1, -1):
        async with session.get(f"{base}/v1/tasks/{prefix}-{index}") as resp:
            if (await resp.json())["status"] not in ("SUCCESS", "FAILED", "CANCELLED"):
                return False
    return True


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(system: System) -> dict[str, list[float]]:
    base = system.base_url
    figures: dict[str, list[float]] = {k: [] for k in ("accept", "seq", "conc", "batch_e2e", "single_e2e")}
    idle: list[float] = []
    busy: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        async with session.post(f"{base}/v1/tasks", json={"task_name": "system.ping", "task_id": "probe"}) as resp:
            assert resp.status == 202
        for round_ in range(ROUNDS):
            _none, quiet = await _readers_during(session, base, _idle_window(1.0))
            idle += quiet
            started = time.perf_counter()
            accept_s, during = await _readers_during(session, base, _post_batch(session, base, f"b{round_}"))
            busy += during
            figures["accept"].append(accept_s)
            await _until(lambda r=round_: _batch_done(session, base, f"b{r}"))
            figures["batch_e2e"].append(time.perf_counter() - started)

            started = time.perf_counter()
            figures["conc"].append(await _one_by_one(session, base, f"c{round_}", 8))
            await _until(lambda r=round_: _singles_done(session, base, f"c{r}"))
            figures["single_e2e"].append(time.perf_counter() - started)
            figures["seq"].append(await _one_by_one(session, base, f"s{round_}", 1))
            await _until(lambda r=round_: _singles_done(session, base, f"s{r}"))
        # the largest batch the default settings accept (batches.max_items), once
        figures["accept_max"] = [await _post_batch(session, base, "max", MAX_ITEMS)]
        await _until(lambda: _batch_done(session, base, "max"))
    figures["idle_p50"], figures["idle_p99"] = [_p(idle, 0.5)], [_p(idle, 0.99)]
    figures["busy_p50"], figures["busy_p99"] = [_p(busy, 0.5)], [_p(busy, 0.99)]
    figures["busy_n"], figures["idle_n"] = [float(len(busy))], [float(len(idle))]
    return figures


def main() -> int:
    """Run the benchmark on a fresh system; print the figures; return 0 when every target is met."""
    with running_system(["system"], threads=8) as system:
        figures = asyncio.run(_measure(system))
    med = {k: statistics.median(v) for k, v in figures.items()}
    per_item_ms = {k: med[k] / ITEMS * 1000 for k in ("accept", "seq", "conc", "batch_e2e", "single_e2e")}
    ratio = per_item_ms["accept"] / per_item_ms["conc"]
    print(f"batch of {ITEMS} system.sleep(0) items, medians of {ROUNDS} rounds")
    print(f"  accept: {med['accept']:.3f} s ({per_item_ms['accept']:.3f} ms/item)")
    print(f"  a batch of {MAX_ITEMS} (batches.max_items): accepted in {med['accept_max']:.3f} s")
    print(f"  one by one, sequential: {med['seq']:.3f} s ({per_item_ms['seq']:.3f} ms/item)")
    print(f"  one by one, 8 at a time: {med['conc']:.3f} s ({per_item_ms['conc']:.3f} ms/item)")
    print(f"  accept per item / 8-at-a-time submit per item: {ratio:.2f} (target <= {TARGET_RATIO})")
    print(f"  accept per item / sequential submit per item: {per_item_ms['accept'] / per_item_ms['seq']:.2f}")
    print(
        f"  submit to last end: batch {med['batch_e2e']:.2f} s (COMPLETED counted), "
        f"500 singles 8 at a time {med['single_e2e']:.2f} s (ratio {med['batch_e2e'] / med['single_e2e']:.2f})"
    )
    print(
        f"  GET /v1/tasks/{{id}} by {READERS} clients: no batch p50 {med['idle_p50']:.2f} ms"
        f" p99 {med['idle_p99']:.2f} ms"
        f" ({int(med['idle_n'])} reads); during the accept p50 {med['busy_p50']:.2f} ms p99 {med['busy_p99']:.2f} ms"
        f" ({int(med['busy_n'])} reads; p99 ratio {med['busy_p99'] / med['idle_p99']:.2f}, target < {TARGET_P99_MS} ms)"
    )
    ok = med["accept"] < TARGET_ACCEPT_S and ratio <= TARGET_RATIO and med["busy_p99"] < TARGET_P99_MS
    print(f"  targets {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
