"""A PENDING stage whose message is in no queue gets a new one; a stage still queued is left alone."""

from __future__ import annotations

import msgspec
import redis.asyncio as aioredis

from actors.messages import MessageSender
from config import Settings, keys
from monitor.dispatch import stage_enqueue
from monitor.loop import Monitor
from state import QueuedMessage, StateStore
from state.live import LiveSettings
from tests.harness import async_wait_until


def _settings(redis_url: str) -> Settings:
    return msgspec.convert(
        {"redis_url": redis_url, "gpu_lock_monitor": {"pending_timeout": 0.05}}, Settings, strict=False
    )


async def _queued_ids(aredis: aioredis.Redis) -> list[str]:
    return [m.decode() for m in await aredis.hkeys(keys.dramatiq_messages("system"))]


async def test_a_pending_stage_whose_message_was_lost_is_sent_again_once(
    aredis: aioredis.Redis, redis_url: str
) -> None:
    settings = _settings(redis_url)
    store = StateStore(aredis, settings.state_ttl_s)
    monitor = Monitor(aredis, LiveSettings(settings), stage_enqueue(MessageSender(aredis, settings.state_ttl_s * 1000)))
    await store.create_stage("lost", "system.ping", {}, message=QueuedMessage("system", "m-lost", b"{}"))
    await store.create_stage("queued", "system.ping", {}, message=QueuedMessage("system", "m-queued", b"{}"))
    await aredis.hdel(keys.dramatiq_messages("system"), "m-lost")  # acked by a start hook that then gave up
    await aredis.lrem(keys.dramatiq_queue("system"), 0, "m-lost")

    async def redelivered() -> int:
        return (await monitor.pass_once(settings)).pending_redelivered

    assert await async_wait_until(redelivered, timeout_s=10, what="the lost stage sent again") == 1

    stage = (await store.get("lost")).stages["system.ping"]
    assert stage.status == "PENDING"
    assert [e["type"] for e in stage.events] == ["redelivered"]
    queued = await _queued_ids(aredis)
    assert len(queued) == 2  # the new message, and the untouched one
    assert "m-queued" in queued
    sent = msgspec.json.decode(await aredis.hget(keys.dramatiq_messages("system"), queued[queued[0] == "m-queued"]))
    assert sent["message_id"] == stage.events[0]["message_id"]
    assert sent["args"] == [{"workflow_id": "lost", "task_name": "system.ping"}]
    assert (await store.get("queued")).stages["system.ping"].events == []
    # Its new message is noted: later passes find it queued and send nothing more.
    for _ in range(3):
        await aredis.zadd(keys.PENDING_STAGES, {"lost|system.ping": 0, "queued|system.ping": 0})
        assert (await monitor.pass_once(settings)).pending_redelivered == 0


async def test_a_stage_that_left_pending_leaves_the_index(aredis: aioredis.Redis, redis_url: str) -> None:
    settings = _settings(redis_url)
    store = StateStore(aredis, settings.state_ttl_s)
    await store.create_stage("gone", "system.ping", {}, message=QueuedMessage("system", "m-gone", b"{}"))
    assert await aredis.zscore(keys.PENDING_STAGES, "gone|system.ping") is not None
    await store.request_cancel("gone")  # PENDING -> CANCELLED: out of the index (its message note expires with it)

    assert await aredis.zscore(keys.PENDING_STAGES, "gone|system.ping") is None
    assert (await store.get("gone")).stages["system.ping"].status == "CANCELLED"
