"""The broker's consumers: a restarted delay-queue consumer takes back what its process had fetched."""

from __future__ import annotations

import dramatiq
import msgspec
import redis

from actors.worker.app import build_broker
from config import Settings, keys


def test_a_delay_queue_consumer_restarted_after_a_connection_error_gets_its_held_messages_back(
    redis_url: str, redis_client: redis.Redis
) -> None:
    broker, _ = build_broker(msgspec.convert({"redis_url": redis_url}, Settings))
    message: dramatiq.Message[None] = dramatiq.Message(
        queue_name="system", actor_name="system.ping", args=({},), kwargs={}, options={}
    )
    broker.enqueue(message, delay=60_000)
    consumer = broker.consume("system.DQ", prefetch=10)
    assert next(consumer) is not None  # fetched: held in this process's memory until its eta
    acks = keys.dramatiq_acks(broker.broker_id, "system.DQ")
    assert redis_client.scard(acks) == 1
    assert redis_client.llen(keys.dramatiq_queue("system.DQ")) == 0

    broker.consume("system.DQ", prefetch=10)  # what Dramatiq does after a connection error, memory emptied

    assert redis_client.scard(acks) == 0
    assert redis_client.llen(keys.dramatiq_queue("system.DQ")) == 1
    broker.close()
