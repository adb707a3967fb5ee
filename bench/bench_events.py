"""Live events: from a stage's end to its event at a connected client, and the cost of idle clients.

Latency: a stage moves RUNNING -> SUCCESS through the store (the same compare-and-set script a worker runs,
which adds the event); the time runs from that call until a client of ``GET /v1/events`` has the event.
Baseline, measured in the same run: a bare ``XREAD BLOCK`` client on the same stream, no gateway between.
Target: p50 under 5 ms through the gateway.

Idle clients: the gateway's resident memory and CPU over a quiet window, with no client and with 200
connected clients that wait on a filter nothing matches (a dashboard left open), while events still flow.

Run: .venv/bin/python bench/bench_events.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_gateway import tree_cpu_s
from bench.system import running_system
from config import keys
from state import StateStore, Status
from state.models import StageRecord
from tests.harness import System

ROUNDS = 300
IDLE_CLIENTS = 200
IDLE_WINDOW_S = 10.0
TARGET_P50_MS = 5.0


def _to(status: Status):  # type: ignore[no-untyped-def]
    def change(stage: StageRecord) -> StageRecord:
        stage.status = status
        return stage

    return change


async def _running(store: StateStore, wid: str) -> None:
    await store.create_stage(wid, "system.ping", {})
    await store.update_stage(wid, "system.ping", _to(Status.RUNNING))


async def _sse_lines(resp: aiohttp.ClientResponse, wanted: str) -> None:
    """Read the stream until a data line mentions ``wanted`` with status SUCCESS."""
    while True:
        line = await resp.content.readline()
        if not line:
            raise AssertionError("the event stream ended")
        if line.startswith(b"data: ") and wanted.encode() in line and b'"SUCCESS"' in line:
            return


async def gateway_latency(store: StateStore, base_url: str, prefix: str) -> list[float]:
    samples = []
    async with aiohttp.ClientSession() as session, session.get(f"{base_url}/v1/events?type=stage") as resp:
        await resp.content.readline()  # "retry:" line: subscribed
        for i in range(ROUNDS):
            wid = f"{prefix}-{i}"
            await _running(store, wid)
            started = time.perf_counter()
            await store.update_stage(wid, "system.ping", _to(Status.SUCCESS))
            await _sse_lines(resp, f'"{wid}"')
            samples.append((time.perf_counter() - started) * 1000)
    return samples


async def bare_latency(store: StateStore, url: str) -> list[float]:
    reader = aioredis.Redis.from_url(url)
    samples = []
    last = "$"
    for i in range(ROUNDS):
        wid = f"bare-{i}"
        await _running(store, wid)
        tail = await reader.xrevrange(keys.EVENTS, count=1)
        last = tail[0][0] if tail else "0-0"
        started = time.perf_counter()
        await store.update_stage(wid, "system.ping", _to(Status.SUCCESS))
        while True:
            reply = await reader.xread({keys.EVENTS: last}, block=1000)
            entries = reply[0][1]
            last = entries[-1][0]
            if any(
                fields.get(b"workflow_id") == wid.encode() and fields[b"status"] == b"SUCCESS" for _, fields in entries
            ):
                break
        samples.append((time.perf_counter() - started) * 1000)
    await reader.aclose()
    return samples


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _window(store: StateStore, pid: int) -> tuple[float, int]:
    """Return the gateway's CPU seconds over a quiet window (one stage event a second flows) and its RSS."""
    before = tree_cpu_s(pid)
    for i in range(int(IDLE_WINDOW_S)):
        await _running(store, f"idle-{time.monotonic_ns()}-{i}")
        await asyncio.sleep(1.0)
    return tree_cpu_s(pid) - before, _rss_kib(pid)


async def idle_cost(store: StateStore, base_url: str, pid: int) -> tuple[tuple[float, int], tuple[float, int]]:
    alone = await _window(store, pid)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        url = f"{base_url}/v1/events?task_name=idle.none"
        responses = await asyncio.gather(*(session.get(url) for _ in range(IDLE_CLIENTS)))
        for resp in responses:
            assert resp.status == 200, resp.status
            await resp.content.readline()
        crowded = await _window(store, pid)
        for resp in responses:
            resp.close()
    return alone, crowded


def _pct(samples: list[float], q: float) -> float:
    return sorted(samples)[min(len(samples) - 1, int(q * len(samples)))]


async def run(url: str, system: System) -> bool:
    client = aioredis.Redis.from_url(url)
    store = StateStore(client, 3600)
    await gateway_latency(store, system.base_url, "warm")
    ours = await gateway_latency(store, system.base_url, "lat")
    bare = await bare_latency(store, url)
    p50, p99, b50, b99 = _pct(ours, 0.5), _pct(ours, 0.99), _pct(bare, 0.5), _pct(bare, 0.99)
    print(f"stage end -> event, via the gateway: p50 {p50:.2f} ms, p99 {p99:.2f} ms ({ROUNDS} rounds)")
    print(f"baseline bare XREAD client:          p50 {b50:.2f} ms, p99 {b99:.2f} ms")
    print(f"ratio gateway/bare: p50 {p50 / b50:.2f}x, p99 {p99 / b99:.2f}x; mean {statistics.mean(ours):.2f} ms")
    pid = system.procs["gateway"].pid
    (cpu0, rss0), (cpu1, rss1) = await idle_cost(store, system.base_url, pid)
    print(
        f"gateway over {IDLE_WINDOW_S:.0f} s: no client {cpu0 * 100 / IDLE_WINDOW_S:.2f}% CPU, "
        f"RSS {rss0 / 1024:.1f} MiB; "
        f"{IDLE_CLIENTS} idle clients {cpu1 * 100 / IDLE_WINDOW_S:.2f}% CPU, RSS {rss1 / 1024:.1f} MiB "
        f"(+{(rss1 - rss0) / IDLE_CLIENTS:.1f} KiB per client, CPU ratio {cpu1 / max(cpu0, 0.01):.2f}x)"
    )
    await client.aclose()
    ok = p50 < TARGET_P50_MS
    print(f"target p50 < {TARGET_P50_MS} ms: {'met' if ok else 'MISSED'}")
    return ok


def main() -> int:
    with running_system([], env={"TASKGATE_LOG_LEVEL": "warning"}, with_worker=False) as system:
        ok = asyncio.run(run(system.env["TASKGATE_REDIS_URL"], system))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
