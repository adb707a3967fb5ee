"""Worker-side Redis clients: a restart never fails the first command; ride_out waits, then gives up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from redis_io.clients import async_client, sync_client
from redis_io.errors import RedisUnavailable
from redis_io.retry import ride_out
from taskgate.embedded_redis import EmbeddedRedis, free_port


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "redis", persist=False)
    server.start()
    yield server
    server.stop()


async def test_the_first_command_after_a_restart_succeeds_on_the_worker_client(own_redis: EmbeddedRedis) -> None:
    plain, ours = aioredis.Redis.from_url(own_redis.url), async_client(own_redis.url)
    assert await plain.ping()
    assert await ours.ping()
    own_redis.stop()
    own_redis.start()  # both pooled connections are now closed by the server

    with pytest.raises(aioredis.ConnectionError, match="Connection closed by server"):
        await plain.ping()  # what TaskRun.progress and cancel checks used to see
    assert await ours.ping()
    await plain.aclose()
    await ours.aclose()


def test_the_sync_client_also_reconnects_after_a_restart(own_redis: EmbeddedRedis) -> None:
    client = sync_client(own_redis.url)
    client.set("k", "v")
    own_redis.stop()
    own_redis.start()
    assert client.set("k", "w")
    client.close()


def test_ride_out_gives_up_after_its_limit_with_the_last_error_as_cause() -> None:
    client = sync_client(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    with pytest.raises(RedisUnavailable, match="unreachable") as caught:
        ride_out(client.ping, what="ping", limit_s=0.3)
    assert isinstance(caught.value.__cause__, redis.ConnectionError)
    client.close()
