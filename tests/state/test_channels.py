"""The lean Redis channels the hot paths use: replies, reuse, dropped connections, cancellation."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis
import redis.asyncio as aioredis

from redis_io import AsyncChannel, Channel, LuaScript
from redis_io.channel import KEEP_IDLE
from redis_io.clients import Profile, async_client

ECHO_KEYS = "return {KEYS[1], ARGV[1]}"


def test_sync_channel_retries_once_on_a_connection_the_server_closed(redis_client: redis.Redis) -> None:
    channel = Channel(redis_client)
    own_id = channel.execute("CLIENT", "ID")
    assert redis_client.client_kill_filter(_id=own_id) == 1
    assert channel.execute("ECHO", "after") == b"after"  # sent again on a new connection
    assert channel.execute("CLIENT", "ID") != own_id


def test_sync_channel_does_not_retry_a_fresh_connection(redis_url: str) -> None:
    dead = redis.Redis.from_url(redis_url.replace(redis_url.rsplit(":", 1)[1], "1/0"))  # nothing listens on :1
    with pytest.raises(redis.ConnectionError):
        Channel(dead).execute("PING")


def test_sync_script_is_loaded_again_after_a_flush(redis_client: redis.Redis) -> None:
    script, channel = LuaScript(ECHO_KEYS), Channel(redis_client)
    assert script(channel, ["k"], ["v"]) == [b"k", b"v"]
    redis_client.script_flush()
    assert script(channel, ["k2"], ["v2"]) == [b"k2", b"v2"]


async def test_async_channel_retries_once_on_a_connection_the_server_closed(aredis: aioredis.Redis) -> None:
    channel = AsyncChannel(aredis)
    own_id = await channel.execute("CLIENT", "ID")
    assert await aredis.client_kill_filter(_id=own_id) == 1
    assert await channel.execute("ECHO", "after") == b"after"
    assert await channel.execute("CLIENT", "ID") != own_id


async def test_async_script_is_loaded_again_after_a_flush(aredis: aioredis.Redis) -> None:
    script, channel = LuaScript(ECHO_KEYS), AsyncChannel(aredis)
    assert await script.run(channel, ["k"], ["v"]) == [b"k", b"v"]
    await aredis.script_flush()
    assert await script.run(channel, ["k2"], ["v2"]) == [b"k2", b"v2"]


async def test_async_script_batch_keeps_error_replies_in_place_and_reloads_after_a_flush(
    aredis: aioredis.Redis,
) -> None:
    script, channel = (
        LuaScript("if ARGV[1] == 'bad' then return redis.error_reply('no') end return ARGV[1]"),
        AsyncChannel(aredis),
    )
    await aredis.script_flush()
    replies = await script.run_many(channel, [([], ["a"]), ([], ["bad"]), ([], ["c"])])
    assert replies[0] == b"a"
    assert replies[2] == b"c"
    assert isinstance(replies[1], redis.ResponseError)
    assert await channel.execute_many(("ECHO", "x"), ("ECHO", "y")) == [b"x", b"y"]


async def test_async_call_cancelled_mid_reply_never_hands_its_reply_to_the_next_call(
    aredis: aioredis.Redis,
) -> None:
    channel = AsyncChannel(aredis)
    waiting = asyncio.ensure_future(channel.execute("BLPOP", "channel-test", 5))
    await asyncio.sleep(0.1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await aredis.rpush("channel-test", "late")  # the cancelled BLPOP's connection was closed: nobody pops this
    assert await channel.execute("ECHO", "mine") == b"mine"
    assert await aredis.lrange("channel-test", 0, -1) == [b"late"]


def test_sync_pipeline_returns_replies_in_order_with_errors_in_place(redis_client: redis.Redis) -> None:
    channel = Channel(redis_client)
    redis_client.set("text", "x")
    replies = channel.execute_many(("SET", "n", 1), ("INCR", "text"), ("INCR", "n"))
    assert replies[0] is True or replies[0] == b"OK"
    assert isinstance(replies[1], redis.ResponseError)
    assert replies[2] == 2
    assert channel.execute("GET", "n") == b"2"  # the connection is clean after an error in the middle


def test_error_reply_leaves_the_connection_usable(redis_client: redis.Redis) -> None:
    channel = Channel(redis_client)
    with pytest.raises(redis.ResponseError, match="unknown command"):
        channel.execute("NO_SUCH_COMMAND")
    assert channel.execute("PING") in {b"PONG", "PONG", True}


def test_failed_command_discards_its_connection(redis_client: redis.Redis) -> None:
    channel = Channel(redis.Redis(connection_pool=_pool_with_timeout(redis_client, 0.1)))
    with pytest.raises(redis.TimeoutError):
        channel.execute("BLPOP", "never-pushed", 0.3)  # the reply comes after the socket timeout
    time.sleep(0.4)
    # A reused connection would now read the BLPOP's late nil reply instead of this command's.
    assert channel.execute("ECHO", "mine") in {b"mine", "mine"}


def _pool_with_timeout(client: redis.Redis, timeout_s: float) -> redis.ConnectionPool:
    kwargs = dict(client.connection_pool.connection_kwargs)
    kwargs["socket_timeout"] = timeout_s
    return redis.ConnectionPool(**kwargs)


async def test_async_channels_return_a_bursts_connections_and_a_bounded_pool_queues_the_burst(redis_url: str) -> None:
    client = async_client(redis_url, Profile(socket_timeout_s=5, connect_timeout_s=5, retries=None, max_connections=8))
    try:
        # 200 calls at once on channels made per call (as the trackers are): 8 connections serve them in turn
        replies = await asyncio.gather(*(AsyncChannel(client).execute("ECHO", i) for i in range(200)))
        assert replies == [str(i).encode() for i in range(200)]
        pool = client.connection_pool
        assert len(pool._in_use_connections) <= KEEP_IDLE  # only those kept for the next call stay lent
        assert await client.ping()  # a plain client call still gets a connection
    finally:
        await client.aclose()
