"""The redis-py and Dramatiq internals taskgate relies on still exist: an upgrade that moves one fails here."""

from __future__ import annotations

import inspect
from importlib.metadata import version

import dramatiq
import redis
import redis.asyncio.connection as async_connection
import redis.connection
from dramatiq.brokers.redis import RedisBroker

from actors.worker.dramatiq_internals import RedisConsumer, dispatch_args, dispatch_source
from config import keys


def _major(package: str) -> int:
    return int(version(package).split(".")[0])


def test_the_installed_versions_are_inside_the_pinned_ranges() -> None:
    assert 2 <= _major("dramatiq") < 3
    assert 5 <= _major("redis") < 9


def test_redis_py_connection_internals_used_by_the_channels_exist() -> None:
    for name in ("send_command", "send_packed_command", "pack_commands", "read_response", "disconnect"):
        assert callable(getattr(redis.connection.Connection, name)), name
    assert "check_health" in inspect.signature(redis.connection.Connection.send_packed_command).parameters
    for name in ("get_connection", "release"):
        assert callable(getattr(redis.connection.ConnectionPool, name)), name
    conn = async_connection.AbstractConnection
    for name in ("send_packed_command", "pack_command", "read_response", "disconnect"):
        assert callable(getattr(conn, name)), name
    assert "nowait" in inspect.signature(conn.disconnect).parameters
    assert "check_health" in inspect.signature(conn.send_packed_command).parameters


def test_dramatiq_consumer_keeps_the_state_the_waking_consumer_reads(redis_url: str) -> None:
    broker = RedisBroker(url=redis_url)
    try:
        consumer = RedisConsumer(broker, "contract", 2, 100)
        for name in ("message_cache", "misses", "prefetch", "outstanding_message_count", "queued_message_ids"):
            assert hasattr(consumer, name), name
        assert callable(RedisConsumer.__next__)
    finally:
        broker.close()


def test_dramatiq_dispatch_script_and_its_arguments_are_where_the_broker_reads_them(redis_url: str) -> None:
    broker = RedisBroker(url=redis_url)
    try:
        assert "enqueue" in dispatch_source(broker)
        assert "fetch" in dispatch_source(broker)
        args = dispatch_args(broker, "enqueue", "contract", "id", "payload")
        assert args[0] == "enqueue"
        assert args[2] == "contract"
        assert args[-2:] == ["id", "payload"]
        assert 'do_maintenance == "1"' in dispatch_source(broker)  # the flag WakingRedisBroker._maintain sets
        assert args[6] in (0, 1)
    finally:
        broker.close()


def test_dramatiq_enqueue_writes_the_queue_layout_that_create_stage_lua_writes(redis_url: str) -> None:
    broker = RedisBroker(url=redis_url)
    try:
        dramatiq.set_broker(broker)
        broker.declare_queue("contract")
        message = broker.enqueue(
            dramatiq.Message(queue_name="contract", actor_name="a", args=(), kwargs={}, options={})
        )
        client = redis.Redis.from_url(redis_url)
        assert client.lrange(keys.dramatiq_queue("contract"), 0, -1) == [message.options["redis_message_id"].encode()]
        assert client.hexists(keys.dramatiq_messages("contract"), message.options["redis_message_id"])
        client.close()
    finally:
        broker.close()
