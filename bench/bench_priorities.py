"""Issue 27 benchmark: what priorities and fairness cost, against the plain FIFO path of the same run.

Each round starts a system (one worker, ``THREADS`` threads, the system queue) with ``queueing.priorities``
on or off, and submits ``TASKS`` ``system.ping`` tasks from ``SUBMITTERS`` concurrent clients, spread over four
tenants and the three priorities (the same bodies in both modes; off, they are queued first in, first out).
Figures per mode, the best of ``ROUNDS`` rounds (alternating off/on, so both see the same machine):
end-to-end throughput (tasks from the first submit to the last end, from the stage records, the server's
clock) and submit latency p50/p95 (client side). Target: on costs at most 10 % of either against off.

The same comparison without the rest of the system (a shared machine's load swamps the end-to-end one): on a
Redis of its own, ``SCRIPT_TASKS`` submits through the submit script, then one take at a time, with lanes
(4 tenants x 3 priorities; ``fetch.lua``) against without (the queue's list; Dramatiq's own dispatch ``fetch``,
the path before priorities), the two alternating message by message: median microseconds per submit and take.

Run: .venv/bin/python -m bench priorities
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import msgspec
import redis
import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.messages import stage_message
from actors.worker.broker import WakingRedisBroker
from bench.system import running_system
from state import Placement, StateStore
from taskgate.embedded_redis import EmbeddedRedis
from tests.harness import Client, System, wait_until

SCRIPT_TASKS = 3000
TASKS = 400
SUBMITTERS = 8
THREADS = 4
ROUNDS = 2
TARGET_COST = 0.10
PRIORITIES = ("high", "normal", "low")


async def _submitter(session: aiohttp.ClientSession, url: str, ids: list[str], latencies: list[float]) -> None:
    for task_id in ids:
        number = int(task_id.rsplit("-", 1)[1])
        body = {
            "task_name": "system.ping",
            "input_data": {},
            "task_id": task_id,
            "priority": PRIORITIES[number % 3],
            "tenant": f"tenant-{number % 4}",
        }
        started = time.perf_counter()
        async with session.post(f"{url}/v1/tasks", json=body) as resp:
            await resp.read()
            assert resp.status == 202, await resp.text()
        latencies.append((time.perf_counter() - started) * 1000)


async def _submit_all(system: System, ids: list[str]) -> list[float]:
    latencies: list[float] = []
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(
            *(_submitter(session, system.base_url, ids[i::SUBMITTERS], latencies) for i in range(SUBMITTERS))
        )
    return latencies


def _round(on: bool, index: int) -> tuple[float, list[float]]:
    """Return (tasks per second end to end, submit latencies in ms) of one round."""
    env = {"TASKGATE_QUEUEING__PRIORITIES": "true" if on else "false"}
    ids = [f"bench-{index}-{i}" for i in range(TASKS)]
    with running_system(["system"], threads=THREADS, env=env) as system:
        client = redis.Redis.from_url(system.env["TASKGATE_REDIS_URL"])
        asyncio.run(_ping_once(system))  # the worker is up and warm before the clock starts
        latencies = asyncio.run(_submit_all(system, ids))

        def all_done() -> bool:
            with client.pipeline(transaction=False) as pipe:
                for task_id in ids:
                    pipe.hget(f"workflow_state:{task_id}", "status:system.ping")
                return all(s == b"SUCCESS" for s in pipe.execute())

        wait_until(all_done, timeout_s=300, interval_s=0.2, what="every task SUCCESS")
        with client.pipeline(transaction=False) as pipe:
            for task_id in ids:
                pipe.hget(f"workflow_state:{task_id}", "stage:system.ping")
            stages = [msgspec.json.decode(raw) for raw in pipe.execute()]
        client.close()
    first = min(s["created_at_ms"] for s in stages)
    last = max(s["finished_at_ms"] for s in stages)
    return TASKS / max((last - first) / 1000, 1e-3), latencies


async def _ping_once(system: System) -> None:
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        await client.submit("system.ping", {}, task_id="warm-up")
        await client.wait("warm-up", timeout_s=60)


# the list path runs on another queue of the same Redis, so that the two alternate message by message
LIST_QUEUE = "ffmpeg"


async def _script_submits(url: str) -> dict[bool, list[float]]:
    """Submit ``SCRIPT_TASKS`` stages per path through the submit script, alternating; return microseconds each."""
    client = aioredis.Redis.from_url(url)
    store = StateStore(client, 3600)
    found: dict[bool, list[float]] = {False: [], True: []}
    for i in range(SCRIPT_TASKS):
        for lanes in (False, True):
            queue, task_id = ("system", f"lane-{i}") if lanes else (LIST_QUEUE, f"list-{i}")
            placement = Placement(priority=PRIORITIES[i % 3], client=f"tenant-{i % 4}", lanes=lanes)
            message = stage_message(queue, "system.ping", task_id)
            started = time.perf_counter()
            await store.create_stage(task_id, "system.ping", {}, None, message, placement=placement)
            found[lanes].append((time.perf_counter() - started) * 1e6)
    await client.aclose()
    return found


def _script_takes(url: str) -> dict[bool, list[float]]:
    """Take every message one at a time, alternating the paths; return microseconds each."""
    broker = WakingRedisBroker(client=redis.Redis.from_url(url), middleware=[])  # type: ignore[no-untyped-call]
    dramatiq_fetch = broker._dispatch("fetch")  # the path before lanes
    found: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(SCRIPT_TASKS):
        for lanes in (False, True):
            started = time.perf_counter()
            taken = broker.do_fetch("system", 1) if lanes else dramatiq_fetch(LIST_QUEUE, 1)
            found[lanes].append((time.perf_counter() - started) * 1e6)
            assert len(taken) == 1, taken
    broker.client.close()
    return found


def _scripts() -> dict[bool, tuple[float, float]]:
    """Return, per path, the median microseconds per submit and per take, on a Redis of its own."""
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis", persist=False)
        server.start()
        try:
            submits = asyncio.run(_script_submits(server.url))
            takes = _script_takes(server.url)
        finally:
            server.stop()
    return {lanes: (statistics.median(submits[lanes]), statistics.median(takes[lanes])) for lanes in (False, True)}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    scripts = _scripts()
    print(f"scripts alone, {SCRIPT_TASKS} messages per path, one at a time, the paths alternating (medians):")
    for lanes in (False, True):
        name = "lanes (4 tenants x 3 priorities, fetch.lua)" if lanes else "queue list (Dramatiq's fetch, baseline)"
        print(f"  {name}: submit {scripts[lanes][0]:.0f} us, take {scripts[lanes][1]:.0f} us")
    submit_ratio, take_ratio = (scripts[True][i] / scripts[False][i] for i in (0, 1))
    print(f"  submit lanes/list = {submit_ratio:.3f}, take lanes/list = {take_ratio:.3f}")
    results: dict[bool, list[tuple[float, list[float]]]] = {False: [], True: []}
    for index in range(ROUNDS):
        for on in (False, True):
            results[on].append(_round(on, index))
    best = {on: max(rounds, key=lambda r: r[0]) for on, rounds in results.items()}
    p50 = {on: min(statistics.median(r[1]) for r in rounds) for on, rounds in results.items()}
    p95 = {on: min(_pct(r[1], 0.95) for r in rounds) for on, rounds in results.items()}
    print(f"{TASKS} system.ping from {SUBMITTERS} clients, 4 tenants x 3 priorities; one worker, {THREADS} threads")
    for on in (False, True):
        name = "priorities+fairness on " if on else "off (FIFO, the baseline)"
        rates = ", ".join(f"{r[0]:.0f}" for r in results[on])
        print(
            f"{name}: {best[on][0]:.0f} tasks/s end to end (rounds: {rates}); "
            f"submit p50 {p50[on]:.2f} ms, p95 {p95[on]:.2f} ms"
        )
    throughput_cost = 1 - best[True][0] / best[False][0]
    latency_cost = p50[True] / p50[False] - 1
    print(f"throughput on/off = {best[True][0] / best[False][0]:.3f} (cost {throughput_cost:+.1%})")
    print(f"submit p50 on/off = {p50[True] / p50[False]:.3f} (cost {latency_cost:+.1%})")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    passed = throughput_cost <= TARGET_COST and latency_cost <= TARGET_COST
    print(f"target: each cost <= {TARGET_COST:.0%}: {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
