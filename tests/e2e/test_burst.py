"""One burst on a fresh gateway: 500 reads, 500 submits, 300 event clients; all served, none turned into 503.

Before the pools were bounded and waiting, the store's channel kept every connection a burst made it take,
and every later call failed with "Too many connections": a 503 for a healthy Redis, until a restart.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import aiohttp
import redis

from config import keys
from tests.harness import System, async_wait_until

READS, SUBMITS, EVENT_CLIENTS = 500, 500, 300
# Every connection the gateway holds on Redis: its bounded pool (64), the event stream's reader, the monitor's.
MOST_CONNECTIONS = 80


async def _burst(http: aiohttp.ClientSession, base: str) -> dict[str, Counter[Any]]:
    async def read(_: int) -> int:
        async with http.get(f"{base}/v1/tasks/seed") as resp:
            await resp.read()
            return resp.status

    async def submit(i: int) -> int:
        body = {"task_name": "system.sleep", "input_data": {"seconds": i % 7 + 1}}
        async with http.post(f"{base}/v1/tasks", json=body) as resp:
            await resp.read()
            return resp.status

    opened = asyncio.Event()
    waiting: list[int] = []

    async def listen(_: int) -> int:
        async with http.get(f"{base}/v1/events") as resp:
            if resp.status == 200:  # held open until every client is in: 300 live streams at once
                waiting.append(1)
                if len(waiting) == EVENT_CLIENTS:
                    opened.set()
                await asyncio.wait_for(opened.wait(), 60)
            return resp.status

    outcomes: dict[str, Counter[Any]] = {}
    for name, call, count in (("read", read, READS), ("submit", submit, SUBMITS), ("events", listen, EVENT_CLIENTS)):
        replies = await asyncio.gather(*(call(i) for i in range(count)), return_exceptions=True)
        outcomes[name] = Counter(r if isinstance(r, int) else type(r).__name__ for r in replies)
    return outcomes


async def test_a_burst_of_reads_submits_and_event_clients_is_served_and_leaves_the_gateway_ready(
    gateway_only: System, redis_url: str
) -> None:
    base = gateway_only.base_url
    admin = redis.Redis.from_url(redis_url)
    connector = aiohttp.TCPConnector(limit=READS + SUBMITS + EVENT_CLIENTS)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=90)) as http:
        seed = {"task_name": "system.ping", "input_data": {}, "task_id": "seed"}
        async with http.post(f"{base}/v1/tasks", json=seed) as resp:
            assert resp.status == 202, await resp.text()
        started = time.monotonic()
        outcomes = await _burst(http, base)
        burst_s = time.monotonic() - started

        async def ready() -> bool:
            async with http.get(f"{base}/readyz") as resp:
                return resp.status == 200

        assert await ready(), "readyz after the burst"
        # and it stays ready: the monitor in the gateway keeps passing (no lasting outage)
        await async_wait_until(ready, timeout_s=5, what="/readyz 200")
        async with http.get(f"{base}/v1/tasks/seed") as resp:
            assert resp.status == 200
    assert outcomes == {
        "read": Counter({200: READS}),
        "submit": Counter({202: SUBMITS}),
        "events": Counter({200: EVENT_CLIENTS}),
    }, f"{outcomes} in {burst_s:.1f} s"
    # every 202 created one task and nothing else did: the index holds the seed and the burst's submits
    created = admin.zcard(keys.TASK_INDEX)
    gateway_connections = len(admin.client_list()) - 1  # all but this one
    admin.close()
    assert created == SUBMITS + 1
    assert gateway_connections <= MOST_CONNECTIONS


async def test_a_submit_whose_worker_check_fails_after_the_create_still_answers_what_it_created(
    gateway_only: System, redis_url: str
) -> None:
    admin = redis.Redis.from_url(redis_url)
    admin.set(keys.SUPERVISORS, "not a sorted set")  # the worker check after the create now fails (WRONGTYPE)
    body = {"task_name": "system.ping", "input_data": {}, "task_id": "checked"}
    async with aiohttp.ClientSession() as http:

        async def answered_despite_the_check() -> dict[str, Any] | None:
            async with http.post(f"{gateway_only.base_url}/v1/tasks", json=body) as resp:
                answer = await resp.json(content_type=None)
                assert resp.status in (200, 202), answer  # the task exists: never an error for it
            unknown = [w for w in answer.get("warnings", []) if "could not be read" in w]
            return answer if unknown else None  # the directory's view is cached for a second: poll past it

        answer = await async_wait_until(answered_despite_the_check, timeout_s=10, what="a check that fails")
    created = admin.exists(keys.workflow_state("checked"))
    admin.close()
    assert answer["task_id"] == "checked"
    assert created
