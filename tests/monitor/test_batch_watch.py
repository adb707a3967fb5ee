"""The batch completion watcher on a real redis-server: counts from the events stream once, reconciles gaps."""

from __future__ import annotations

import redis.asyncio as aioredis

from actors.messages import stage_message
from config import keys
from config.batches import BatchSettings
from config.settings import Settings
from monitor.batches import BatchWatcher
from state import StageError, StateStore, Status, changes
from state.batches import BatchMeta, BatchStore
from state.models import now_ms

TASK = "system.ping"


async def _batch(client: aioredis.Redis, batch_id: str, size: int, callback: str | None = None) -> BatchStore:
    store = BatchStore(client, 3600)
    meta = BatchMeta(batch_id=batch_id, task_name=TASK, size=size, created_at_ms=now_ms(), callback=callback)
    await store.create(meta, "digest")
    await store.create_items(meta, [{}] * size, lambda wid: stage_message("system", TASK, wid), chunk=2)
    return store


async def _end_items(client: aioredis.Redis, batch_id: str, outcomes: list[Status]) -> None:
    stages = StateStore(client, 3600)
    for index, outcome in enumerate(outcomes):
        wid = keys.batch_item_id(batch_id, index)
        if outcome is Status.CANCELLED:
            await stages.update_stage(wid, TASK, changes.cancel_pending)
            continue
        await stages.update_stage(wid, TASK, changes.start)
        if outcome is Status.SUCCESS:
            await stages.update_stage(wid, TASK, lambda s: changes.succeed(s, {"pong": True}))
        else:
            await stages.update_stage(wid, TASK, lambda s: changes.fail(s, StageError(type="Boom", message="x")))


async def _drain(watcher: BatchWatcher) -> None:
    while await watcher.read_once():
        pass


async def test_item_ends_read_from_the_stream_complete_the_batch_once_even_when_read_twice(
    aredis: aioredis.Redis,
) -> None:
    watcher = BatchWatcher(aredis, BatchSettings(), Settings().state_ttl_s)
    await watcher.read_once()  # the cursor starts at the stream's end
    store = await _batch(aredis, "w", 3, callback="http://127.0.0.1:9/hook")
    await _end_items(aredis, "w", [Status.SUCCESS, Status.FAILED])
    await _drain(watcher)
    half = await store.get("w")
    assert half.counts == {"PENDING": 1, "RUNNING": 0, "SUCCESS": 1, "FAILED": 1, "CANCELLED": 0}
    assert not half.complete

    await StateStore(aredis, 3600).update_stage("w-2", TASK, changes.cancel_pending)
    await _drain(watcher)
    done = await store.get("w")
    assert done.complete
    assert done.counts == {"PENDING": 0, "RUNNING": 0, "SUCCESS": 1, "FAILED": 1, "CANCELLED": 1}
    assert await aredis.zrange(keys.WEBHOOK_OUTBOX, 0, -1) == [b"@batch\nw"]
    assert not await aredis.sismember(keys.BATCHES_ACTIVE, "w")

    # a new leader that reads everything again from the start
    replay = BatchWatcher(aredis, BatchSettings(), Settings().state_ttl_s)
    await aredis.set(keys.BATCHES_CURSOR, "0-0")
    await _drain(replay)
    assert (await store.get("w")).counts == done.counts
    assert (await store.get("w")).ended == 3
    batch_events = [f for _id, f in await aredis.xrange(keys.EVENTS) if f[b"type"] == b"batch"]
    assert batch_events == [{b"type": b"batch", b"batch_id": b"w", b"status": b"COMPLETED"}]


async def test_moves_the_stream_lost_are_found_by_the_reconcile(aredis: aioredis.Redis) -> None:
    watcher = BatchWatcher(aredis, BatchSettings(), Settings().state_ttl_s)
    await watcher.read_once()
    store = await _batch(aredis, "gap", 4)
    await _end_items(aredis, "gap", [Status.SUCCESS, Status.SUCCESS, Status.CANCELLED])
    await StateStore(aredis, 3600).update_stage("gap-3", TASK, changes.start)
    await aredis.xtrim(keys.EVENTS, maxlen=0)  # the events are gone before the watcher read them
    assert await watcher.read_once() == 0
    assert (await store.get("gap")).counts["PENDING"] == 4

    assert await watcher.reconcile_due() == 4  # due: the watcher started since the last one
    record = await store.get("gap")
    assert record.counts == {"PENDING": 0, "RUNNING": 1, "SUCCESS": 2, "FAILED": 0, "CANCELLED": 1}
    assert await watcher.reconcile_due() == 0  # not due again before batches.reconcile_interval_s

    await StateStore(aredis, 3600).update_stage("gap-3", TASK, lambda s: changes.succeed(s, {"pong": True}))
    await _drain(watcher)  # this end is on the stream: counted once, the batch completes
    assert (await store.get("gap")).complete
    assert await watcher.reconcile("gap") == 0
    assert await aredis.zcard(keys.WEBHOOK_OUTBOX) == 0  # no callback URL: no outbox entry
