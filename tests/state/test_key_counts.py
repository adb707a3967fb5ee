"""A key's queued and running sets follow every status change of its stages, and drop ids whose record expired."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from config import keys
from state import LimitExceeded, QueuedMessage, StateStore, changes
from state.limits import SubmitKey
from state.models import StageError
from state.schedule import Scheduler

TTL_S = 3600
BOB = SubmitKey("bob", b'{"max_queued": 2}')


@pytest.fixture
def store(aredis: aioredis.Redis) -> StateStore:
    return StateStore(aredis, TTL_S)


async def _sets(client: aioredis.Redis) -> tuple[list[bytes], list[bytes], list[bytes], list[bytes]]:
    found = []
    for kind in ("queued", "running"):
        found.append(await client.zrange(keys.key_count("bob", kind), 0, -1))
        found.append(await client.zrange(keys.key_count("bob", kind, "system.ping"), 0, -1))
    return found[0], found[1], found[2], found[3]


async def test_start_retry_and_end_move_the_stage_between_the_sets(store: StateStore, aredis: aioredis.Redis) -> None:
    await store.create_stage("w1", "system.ping", {}, key=BOB)
    assert await _sets(aredis) == ([b"w1|system.ping"], [b"w1|system.ping"], [], [])
    await store.update_stage("w1", "system.ping", changes.start)
    assert await _sets(aredis) == ([], [], [b"w1|system.ping"], [b"w1|system.ping"])
    await store.update_stage("w1", "system.ping", lambda s: changes.retry(s, "transient"))
    assert await _sets(aredis) == ([b"w1|system.ping"], [b"w1|system.ping"], [], [])
    await store.update_stage("w1", "system.ping", changes.start)
    await store.update_stage("w1", "system.ping", changes.start)  # a redelivered message: still one run
    assert await _sets(aredis) == ([], [], [b"w1|system.ping"], [b"w1|system.ping"])
    await store.update_stage("w1", "system.ping", lambda s: changes.fail(s, StageError(type="X", message="x")))
    assert await _sets(aredis) == ([], [], [], [])


async def test_a_cancelled_or_released_scheduled_stage_keeps_the_counts_right(
    store: StateStore, aredis: aioredis.Redis
) -> None:
    message = QueuedMessage("system", "m-1", b"{}")
    await store.create_stage("w1", "system.ping", {}, None, message, run_at_ms=1, key=BOB)
    await store.create_stage("w2", "system.ping", {}, None, QueuedMessage("system", "m-2", b"{}"), run_at_ms=1, key=BOB)
    with pytest.raises(LimitExceeded) as refused:
        await store.create_stage("w3", "system.ping", {}, key=BOB)
    assert (refused.value.limit, refused.value.value, refused.value.current) == ("max_queued", 2, 2)
    await store.request_cancel("w1")
    assert await Scheduler(aredis, store).release_due() == 1  # w2 (run_at 1 ms) is due; w1 is cancelled
    queued, _, running, _ = await _sets(aredis)
    assert (queued, running) == ([b"w2|system.ping"], [])
    assert await aredis.lrange("dramatiq:system", 0, -1) == [b"m-2"]
    assert await aredis.hget(keys.workflow_state("w2"), "message:system.ping") == b"system\nm-2"


async def test_ids_whose_record_expired_are_dropped_when_the_key_next_submits(
    store: StateStore, aredis: aioredis.Redis
) -> None:
    await store.create_stage("w1", "system.ping", {}, key=BOB)
    await store.create_stage("w2", "system.ping", {}, key=BOB)
    await aredis.delete(keys.workflow_state("w1"))  # what its TTL does: the record is gone, its id stays...
    for key in (keys.key_count("bob", "queued"), keys.key_count("bob", "queued", "system.ping")):
        await aredis.zadd(key, {"w1|system.ping": 1})  # ...entered longer than the TTL ago
    await store.create_stage("w3", "system.ping", {}, key=BOB)  # accepted: at the limit, w1 was dropped
    queued, per_task, _, _ = await _sets(aredis)
    assert sorted(queued) == [b"w2|system.ping", b"w3|system.ping"]
    # a set is trimmed when its own limit is reached (none applies per task here): w1 waits there until then
    assert sorted(per_task) == [b"w1|system.ping", b"w2|system.ping", b"w3|system.ping"]
