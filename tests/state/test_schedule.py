"""Scheduled stages: released once when due, whichever scheduler gets there, never before their time."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from config import keys
from state import QueuedMessage, StateStore
from state.models import now_ms
from state.schedule import Scheduler


@pytest.fixture
def store(aredis: aioredis.Redis) -> StateStore:
    return StateStore(aredis, 3600)


async def test_two_schedulers_racing_queue_each_due_stage_exactly_once(
    store: StateStore, aredis: aioredis.Redis
) -> None:
    for i in range(40):
        message = QueuedMessage("system", f"m-{i}", b"{}")
        await store.create_stage(f"due{i}", "system.ping", {}, None, message, run_at_ms=1 + i)
    later = now_ms() + 3_600_000
    await store.create_stage(
        "later", "system.ping", {}, None, QueuedMessage("system", "m-later", b"{}"), run_at_ms=later
    )
    one, two = Scheduler(aredis, store), Scheduler(aredis, store)
    counts = await asyncio.gather(one.release_due(), two.release_due(), one.release_due())
    assert sum(counts) == 40
    queued = await aredis.lrange("dramatiq:system", 0, -1)
    assert sorted(queued) == sorted(f"m-{i}".encode() for i in range(40))
    assert await aredis.zrange(keys.SCHEDULED_STAGES, 0, -1) == [b"later|system.ping"]  # not due: left alone
    assert (await store.get("later")).latest_stage.status == "SCHEDULED"
    assert 0 < await one.next_due_s() <= 0.25
