"""``MessageSender`` (the gateway's and the monitor's way to send) queues a message as the worker's broker does."""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis
from dramatiq.message import Message

from actors.messages import MessageSender, decode_message, requeued_stage_message
from actors.worker.broker import WakingRedisBroker
from config import keys


def _layout(client: redis.Redis, queue: str, workflow_id: str) -> dict[str, Any]:
    """What a queued message leaves in Redis, with its Redis message id taken out."""
    [redis_id] = client.lrange(keys.dramatiq_queue(queue), 0, -1)
    fields = decode_message(client.hget(keys.dramatiq_messages(queue), redis_id)).asdict()
    assert fields["options"].pop("redis_message_id") == redis_id.decode()
    del fields["message_timestamp"]
    note = client.hget(keys.workflow_state(workflow_id), keys.stage_message_field("system.ping"))
    ttl_ms = client.pttl(keys.workflow_state(workflow_id))
    return {
        "message": fields,
        "note": note == f"{queue}\n{redis_id.decode()}".encode(),
        "ttl_set": 0 < ttl_ms <= 3_600_000,
        "wake_tokens": client.llen(keys.broker_wake(queue)),
    }


async def test_a_sent_stage_message_leaves_what_the_broker_enqueue_leaves(
    aredis: aioredis.Redis, redis_client: redis.Redis, redis_url: str
) -> None:
    message: Message[Any] = requeued_stage_message("system", "system.ping", "w-sent", "system.ping", "m-1")
    sent = await MessageSender(aredis, 3_600_000).send(message)
    assert sent.message_id == "m-1"  # the id the stage record expects; the Redis id is a new one
    by_sender = _layout(redis_client, "system", "w-sent")
    redis_client.flushdb()

    broker = WakingRedisBroker(client=redis.Redis.from_url(redis_url), middleware=[])  # type: ignore[no-untyped-call]
    broker.record_ttl_ms = 3_600_000
    try:
        broker.enqueue(message)
    finally:
        broker.client.close()
    assert by_sender == _layout(redis_client, "system", "w-sent")
    assert by_sender["note"]
    assert by_sender["ttl_set"]
    assert by_sender["wake_tokens"] == 1
