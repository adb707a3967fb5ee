"""Limits per key and later start: what a limited submit costs, and how late a scheduled stage is released.

Submit cost: the submit script (``state/lua/create_stage.lua`` through ``StateStore.create_stage``) with an API key
whose limits are checked and counted (key and per-task sets, the per-minute window), against the same submits
without keys (the baseline), interleaved in blocks in the same run. Measured as the server's own time in the
script (``INFO commandstats``: no client or scheduling noise) and as the round trip. Target: the script at most
1.5x the baseline's (the check is a few sorted-set reads and writes in the same round trip).

Release lateness: 300 stages scheduled 0.5-2.5 s ahead, released by one ``Scheduler`` (what every gateway
runs); lateness = when the release committed (``updated_at``) - ``run_at``. Baseline: the scheduler's poll
period (``POLL_S``). Target: p95 under 1 s ("starts within a second or so").

Run: .venv/bin/python -m bench intake
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from state import QueuedMessage, StateStore
from state.limits import SubmitKey
from state.models import now_ms
from state.schedule import POLL_S, Scheduler
from taskgate.embedded_redis import EmbeddedRedis

BLOCKS, PER_BLOCK = 20, 100
SCHEDULED = 300
TARGET_RATIO = 1.5
TARGET_P95_S = 1.0
LIMITS = b'{"max_queued": 1000000, "max_running": 1000000, "submits_per_minute": 1000000,'
LIMITS += b' "per_task": {"system.ping": {"max_queued": 1000000}}}'


async def _script_us(client: aioredis.Redis) -> int:
    """Return the server's total microseconds spent in EVALSHA so far (its own clock: no client noise)."""
    stats = await client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("usec", 0))


async def _submits(store: StateStore, prefix: str, key: SubmitKey | None) -> tuple[list[float], int]:
    times = []
    before = await _script_us(store.client)
    for i in range(PER_BLOCK):
        message = QueuedMessage("system", f"{prefix}-{i}", b"{}")
        started = time.perf_counter()
        await store.create_stage(f"{prefix}-{i}", "system.ping", {}, None, message, key=key)
        times.append(time.perf_counter() - started)
    return times, await _script_us(store.client) - before


async def submit_cost(client: aioredis.Redis) -> bool:
    store = StateStore(client, 3600)
    plain: list[float] = []
    keyed: list[float] = []
    server = {"plain": 0, "keyed": 0}
    for block in range(BLOCKS):
        times, used = await _submits(store, f"p{block}", None)
        plain += times
        server["plain"] += used
        times, used = await _submits(store, f"k{block}", SubmitKey("bench", LIMITS))
        keyed += times
        server["keyed"] += used
    n = BLOCKS * PER_BLOCK
    base, with_limits = statistics.median(plain), statistics.median(keyed)
    script_base, script_limits = server["plain"] / n, server["keyed"] / n
    ratio = script_limits / script_base
    print(f"submit, no keys (baseline): round trip median {base * 1e6:.0f} us; script {script_base:.1f} us (server)")
    print(f"submit, key with limits:    round trip median {with_limits * 1e6:.0f} us; script {script_limits:.1f} us")
    print(f"round trip ratio (median, noisy on a shared machine): {with_limits / base:.2f}x")
    verdict = "OK" if ratio <= TARGET_RATIO else "MISSED"
    print(f"script ratio (server time): {ratio:.2f}x  target <= {TARGET_RATIO}x  {verdict}")
    return ratio <= TARGET_RATIO


async def release_lateness(client: aioredis.Redis) -> bool:
    await client.flushall()
    store = StateStore(client, 3600)
    now = now_ms()
    for i in range(SCHEDULED):
        at = now + random.randint(500, 2500)
        await store.create_stage(
            f"s{i}", "system.ping", {}, None, QueuedMessage("system", f"s-{i}", b"{}"), run_at_ms=at
        )
    stop = asyncio.Event()
    task = asyncio.create_task(Scheduler(client, store).run(stop))
    deadline = time.monotonic() + 30
    while await client.llen("dramatiq:system") < SCHEDULED and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)  # the messages land in Redis: nothing in this process to wait on
    stop.set()
    await task
    late = []
    for i in range(SCHEDULED):
        stage = (await store.get(f"s{i}")).latest_stage
        late.append(((stage.updated_at_ms or 0) - (stage.run_at_ms or 0)) / 1000)
    late.sort()
    p50, p95 = late[len(late) // 2], late[int(len(late) * 0.95)]
    print(
        f"release lateness of {SCHEDULED} stages: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {late[-1] * 1000:.0f} ms, earliest {late[0] * 1000:.0f} ms (never early: >= 0)"
    )
    print(f"baseline: the scheduler's poll period {POLL_S * 1000:.0f} ms; p95 / poll = {p95 / POLL_S:.2f}")
    ok = p95 <= TARGET_P95_S and late[0] >= 0
    print(f"target p95 <= {TARGET_P95_S} s and none early: {'OK' if ok else 'MISSED'}")
    return ok


async def run(url: str) -> bool:
    client = aioredis.Redis.from_url(url)
    try:
        ok = await submit_cost(client)
        return await release_lateness(client) and ok
    finally:
        await client.aclose()


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis", persist=False)
        server.start()
        try:
            ok = asyncio.run(run(server.url))
        finally:
            server.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
