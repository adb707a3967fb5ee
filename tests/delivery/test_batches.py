"""Batches through a real gateway (its monitor watching the events stream), real workers and a real receiver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from actors.webhooks.events import batch_event_id
from config import keys
from tests.delivery.conftest import FAST_WEBHOOKS, webhooks_idle
from tests.delivery.receiver import Receiver
from tests.harness import Client, System, async_wait_until


async def _batch(client: Client, batch_id: str) -> dict[str, Any]:
    status, body, _ = await client.request("GET", f"/v1/batches/{batch_id}")
    assert status == 200, body
    return dict(body)


async def _completed(client: Client, batch_id: str) -> dict[str, Any] | None:
    body = await _batch(client, batch_id)
    return body if body["status"] == "COMPLETED" else None


async def test_a_batch_of_50_sleeps_calls_back_once_after_all_ended_with_the_counts(
    make_system: Callable[..., System], receiver: Receiver, redis_url: str
) -> None:
    system = make_system(FAST_WEBHOOKS)
    system.start_worker(threads=4)
    system.start_gateway()
    items = [{"seconds": 0.01 * (i % 5)} for i in range(49)] + [{"seconds": 0.5}]
    body = {"task_name": "system.sleep", "items": items, "batch_id": "b50", "callback": receiver.url("batch")}
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        status, created, headers = await client.request("POST", "/v1/batches", json=body)
        assert status == 201, created
        assert headers["Location"] == "/v1/batches/b50"
        assert created["size"] == 50
        assert [item["task_id"] for item in created["items"]] == [f"b50-{i}" for i in range(50)]

        status, again, _ = await client.request("POST", "/v1/batches", json=body)  # the same body: the same batch
        assert status == 200, again
        assert again["batch_id"] == "b50"
        status, other, _ = await client.request("POST", "/v1/batches", json={**body, "items": items[:3]})
        assert status == 409, other

        done = await async_wait_until(lambda: _completed(client, "b50"), 60, 0.1, "batch b50 completed")
        records = [await client.task(f"b50-{i}") for i in range(50)]
        last_end = max(r["stages"]["system.sleep"]["finished_at"] for r in records)
        assert {r["status"] for r in records} == {"SUCCESS"}
        assert done["counts"] == {"PENDING": 0, "RUNNING": 0, "SUCCESS": 50, "FAILED": 0, "CANCELLED": 0}
        assert done["completed_at"] >= last_end

        redis = aioredis.Redis.from_url(redis_url)
        try:
            await async_wait_until(lambda: webhooks_idle(redis), 30, 0.05, "webhooks sent")
        finally:
            await redis.aclose()
        done = await async_wait_until(lambda: _delivered(client, "b50"), 30, 0.05, "callback recorded")
        [event] = [e for e in receiver.events if e["body"].get("batch_id") == "b50"]  # exactly once
        assert event["headers"]["webhook-id"] == batch_event_id("b50") == event["body"]["event_id"]
        assert event["body"]["type"] == "batch.completed"
        assert event["body"]["counts"]["SUCCESS"] == 50
        assert event["body"]["size"] == 50
        assert event["body"]["completed_at"] == done["completed_at"] >= last_end
        assert event["body"]["status_url"] == f"{system.base_url}/v1/batches/b50"
        assert not [e for e in receiver.events if "task_id" in e["body"]]  # the items send no callback

        status, page, _ = await client.request("GET", "/v1/batches/b50?offset=40&limit=20")
        assert status == 200, page
        assert [i["index"] for i in page["items"]] == list(range(40, 50))
        assert {i["status"] for i in page["items"]} == {"SUCCESS"}
        assert page["next_offset"] is None
        status, listed, _ = await client.request("GET", "/v1/batches")
        assert [b["batch_id"] for b in listed["batches"]] == ["b50"]


async def _delivered(client: Client, batch_id: str) -> dict[str, Any] | None:
    body = await _batch(client, batch_id)
    state = (body["callback_status"] or {}).get("state")
    return body if state == "delivered" else None


async def test_cancelling_a_batch_ends_every_item_and_the_callback_counts_them(
    make_system: Callable[..., System], receiver: Receiver, redis_url: str
) -> None:
    system = make_system(FAST_WEBHOOKS)
    system.start_worker(threads=2)
    system.start_gateway()
    items = [{"seconds": 60} for _ in range(6)]
    body = {"task_name": "system.sleep", "items": items, "batch_id": "slow", "callback": receiver.url("cancel")}
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        status, created, _ = await client.request("POST", "/v1/batches", json=body)
        assert status == 201, created
        await async_wait_until(lambda: _running(client, "slow", 2), 30, 0.05, "two items running")

        status, cancelled, _ = await client.request("POST", "/v1/batches/slow/cancel")
        assert status == 202, cancelled
        assert cancelled["cancel_requested_at"] is not None
        done = await async_wait_until(lambda: _completed(client, "slow"), 30, 0.1, "cancelled batch completed")
        assert done["counts"]["CANCELLED"] == 6
        assert {(await client.task(f"slow-{i}"))["status"] for i in range(6)} == {"CANCELLED"}
        await async_wait_until(lambda: _delivered(client, "slow"), 30, 0.05, "callback delivered")
        [event] = [e for e in receiver.events if e["body"].get("batch_id") == "slow"]
        assert event["body"]["counts"]["CANCELLED"] == 6

        status, again, _ = await client.request("POST", "/v1/batches/slow/cancel")  # nothing left to stop
        assert status == 202, again
        status, missing, _ = await client.request("POST", "/v1/batches/nope/cancel")
        assert status == 404, missing
    redis = aioredis.Redis.from_url(redis_url)
    try:
        audit = await redis.xrange(keys.AUDIT)
        actions = [fields[b"action"] for _id, fields in audit]
        assert actions.count(b"batch.cancel") == 3
    finally:
        await redis.aclose()


async def _running(client: Client, batch_id: str, count: int) -> bool:
    return bool((await _batch(client, batch_id))["counts"]["RUNNING"] >= count)
