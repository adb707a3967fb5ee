"""The lean channels after a failover: a demoted primary's connection is dropped, the new primary is found."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from config.settings import load_settings
from redis_io.channel import AsyncChannel, Channel
from redis_io.clients import aclose_client, async_client, close_client, sync_client
from taskgate.embedded_redis import EmbeddedRedis
from tests.failover.sentinels import MASTER, SentinelSet
from tests.harness import wait_until


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[EmbeddedRedis, EmbeddedRedis]]:
    servers = (EmbeddedRedis(tmp_path / "a", persist=False), EmbeddedRedis(tmp_path / "b", persist=False))
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()


def test_a_kept_connection_answered_readonly_is_dropped(two_servers: tuple[EmbeddedRedis, EmbeddedRedis]) -> None:
    first, second = two_servers
    admin, client = redis.Redis.from_url(first.url), sync_client(first.url)
    channel = Channel(client)
    kept_id = channel.execute("CLIENT", "ID")
    admin.replicaof("127.0.0.1", second.port)  # demoted: its clients stay connected and get READONLY

    with pytest.raises(redis.ReadOnlyError):
        channel.execute("SET", "k", "v")  # the kept connection, then once more on a fresh one: both READONLY
    admin.replicaof("NO", "ONE")
    assert channel.execute("CLIENT", "ID") != kept_id  # neither READONLY connection was kept
    assert channel.execute("SET", "k", "v") == b"OK"
    channel.close()
    client.close()
    admin.close()


async def test_the_async_channel_drops_a_readonly_connection_too(
    two_servers: tuple[EmbeddedRedis, EmbeddedRedis],
) -> None:
    first, second = two_servers
    admin, client = redis.Redis.from_url(first.url), async_client(first.url)
    channel = AsyncChannel(client)
    kept_id = await channel.execute("CLIENT", "ID")
    admin.replicaof("127.0.0.1", second.port)

    with pytest.raises(redis.ReadOnlyError):
        await channel.execute_many(("GET", "k"), ("SET", "k", "v"))
    admin.replicaof("NO", "ONE")
    assert await channel.execute("CLIENT", "ID") != kept_id
    await channel.close()
    await client.aclose()
    admin.close()


def _port(reply: dict[bytes, bytes] | list[bytes]) -> int:
    """Return the port of a raw CONFIG GET port reply (a map under RESP3, else a flat list)."""
    return int(reply[b"port"] if isinstance(reply, dict) else reply[1])


async def test_channels_on_sentinel_clients_follow_a_failover_to_the_new_primary(sentinel_set: SentinelSet) -> None:
    settings = load_settings({"TASKGATE_REDIS_SENTINELS": sentinel_set.sentinels})
    sync, asyncio_ = sync_client(settings), async_client(settings)
    sync_channel, async_channel = Channel(sync), AsyncChannel(asyncio_)
    try:
        old, new = sentinel_set.ports["primary"], sentinel_set.ports["replica"]
        assert _port(sync_channel.execute("CONFIG", "GET", "port")) == old
        assert _port(await async_channel.execute("CONFIG", "GET", "port")) == old

        def failover_started() -> bool:
            # A sentinel answers NOGOODSLAVE until its last look at the replica is recent enough: ask again.
            with redis.Redis(port=sentinel_set.sentinel_ports[0]) as sentinel:
                try:
                    sentinel.execute_command("SENTINEL", "FAILOVER", MASTER)
                except redis.ResponseError as exc:
                    if "NOGOODSLAVE" not in str(exc):
                        raise
                    return False
            return True

        wait_until(failover_started, 20, 0.2, "a sentinel to start the failover")
        wait_until(lambda: sentinel_set.named_by_all(new), 20, 0.05, "every sentinel to name the replica")
        with redis.Redis(port=old) as demoted:  # what the sentinels do a few seconds later, minus killing its clients
            demoted.replicaof("127.0.0.1", new)

        # the kept connections get READONLY: dropped, and the command sent again on the new primary
        assert sync_channel.execute("SET", "k", "v") == b"OK"
        assert _port(sync_channel.execute("CONFIG", "GET", "port")) == new
        assert await async_channel.execute("SET", "k", "w") == b"OK"
        assert _port(await async_channel.execute("CONFIG", "GET", "port")) == new
    finally:  # closed even when a step fails: no connection is left for a later test's event loop
        sync_channel.close()
        await async_channel.close()
        close_client(sync)
        await aclose_client(asyncio_)
