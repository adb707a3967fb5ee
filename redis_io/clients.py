"""Every Redis client of taskgate, built in one place from the settings: by URL or through Redis Sentinel.

``Redis.from_url`` alone retries nothing: after a Redis restart the first command on a pooled connection
can fail with "Connection closed by server". Worker-side clients (``WORKER``) retry a command that failed
on its connection (or could not connect) a few times, with a short backoff, and bound every wait, so a
paused or unreachable server yields an error the caller can ride out instead of a hang. The gateway and
the monitor keep shorter socket timeouts and redis-py's own retry policy.

With ``redis_sentinels`` set, each client is the sentinels' ``master_for(redis_sentinel_master)``: every
new connection asks a sentinel for the current primary, and a connection that gets a READONLY reply
(a primary demoted by a failover) is dropped and its command fails as a ``ConnectionError``, so the
next connection goes to the new primary.

Every asyncio client draws on a bounded, waiting pool (``BlockingConnectionPool``): a burst of concurrent
calls beyond ``max_connections`` waits up to ``pool_timeout_s`` for a connection to come back instead of
failing with "Too many connections", so a burst is queued and a 503 means Redis itself did not answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

import redis
import redis.asyncio as aioredis
from redis.asyncio.connection import BlockingConnectionPool
from redis.asyncio.retry import Retry as AsyncRetry
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from redis.sentinel import Sentinel

if TYPE_CHECKING:
    from typing import TypeAlias

    from config.settings import Settings

    # settings (a URL or sentinels), or a URL
    Where: TypeAlias = Settings | str | None

DEFAULT_URL = "redis://127.0.0.1:6379/0"
# A sentinel that does not answer within this is skipped for the next one.
SENTINEL_TIMEOUT_S = 2.0
_ERRORS = [RedisConnectionError, RedisTimeoutError, ConnectionResetError]


@dataclass(frozen=True)
class Profile:
    """How one kind of process's clients wait and retry."""

    socket_timeout_s: float
    connect_timeout_s: float
    # retries of a command on a fresh connection (None: redis-py's default policy)
    retries: int | None
    health_check_interval_s: int = 0
    # wait between retries (exponential with jitter), or retry at once
    backoff: bool = True
    # asyncio clients: at most this many connections; a call finding them all lent waits this long for one
    max_connections: int = 32
    pool_timeout_s: float = 10.0


# Longer than any blocking command the worker side sends (they bound themselves by this timeout).
WORKER = Profile(socket_timeout_s=10.0, connect_timeout_s=5.0, retries=3)
# Socket timeouts keep a request from hanging on a Redis that stopped answering.
# A pooled connection the server closed (a Redis restart) is retried once, at once, on a new one; a Redis that
# is down still gets its 503 within milliseconds.
# Its pool serves every request at once: a burst beyond 64 concurrent Redis calls waits its turn.
GATEWAY = Profile(
    socket_timeout_s=5.0,
    connect_timeout_s=5.0,
    retries=1,
    health_check_interval_s=30,
    backoff=False,
    max_connections=64,
)
MONITOR = Profile(socket_timeout_s=5.0, connect_timeout_s=5.0, retries=None, max_connections=16)


class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """A sentinel-managed pool that waits for a free connection instead of refusing one (bounded)."""


@overload
def redis_client(where: Where, *, asyncio: Literal[False] = ..., profile: Profile = ...) -> redis.Redis: ...
@overload
def redis_client(where: Where, *, asyncio: Literal[True], profile: Profile = ...) -> aioredis.Redis: ...
def redis_client(where: Where, *, asyncio: bool = False, profile: Profile = WORKER) -> redis.Redis | aioredis.Redis:
    """Return a client for the Redis that ``where`` names: settings (URL or sentinels), or a URL.

    ``asyncio`` picks ``redis.asyncio``; ``profile`` the timeouts and retries.
    """
    url, sentinels, master = _target(where)
    options = _options(profile, asyncio)
    if sentinels:
        sentinel_options = {
            "socket_timeout": SENTINEL_TIMEOUT_S,
            "socket_connect_timeout": SENTINEL_TIMEOUT_S,
            "retry": (AsyncRetry if asyncio else Retry)(NoBackoff(), 0),
        }
        manager = (AsyncSentinel if asyncio else Sentinel)(sentinels, sentinel_kwargs=sentinel_options)
        if asyncio:
            options |= _pool_bounds(profile)
            options["connection_pool_class"] = BlockingSentinelPool
        client: redis.Redis | aioredis.Redis = manager.master_for(master, **options)
        return client
    if asyncio:
        pool = BlockingConnectionPool.from_url(url or DEFAULT_URL, **options, **_pool_bounds(profile))
        return aioredis.Redis.from_pool(pool)
    return redis.Redis.from_url(url or DEFAULT_URL, **options)


def sync_client(where: Where, profile: Profile = WORKER) -> redis.Redis:
    """Return a synchronous client (``redis_client``); worker clients retry commands on a fresh connection."""
    return redis_client(where, asyncio=False, profile=profile)


def async_client(where: Where, profile: Profile = WORKER) -> aioredis.Redis:
    """Return an asyncio client (``redis_client``); worker clients retry commands on a fresh connection."""
    return redis_client(where, asyncio=True, profile=profile)


def _target(where: Where) -> tuple[str | None, list[tuple[str, int]], str]:
    """Return (URL, sentinel addresses, master name) of ``where``."""
    if where is None or isinstance(where, str):
        return where, [], ""
    return where.redis_url, where.sentinel_addresses, where.redis_sentinel_master


def _options(profile: Profile, asyncio: bool) -> dict[str, Any]:
    options: dict[str, Any] = {
        "socket_timeout": profile.socket_timeout_s,
        "socket_connect_timeout": profile.connect_timeout_s,
        "health_check_interval": profile.health_check_interval_s,
    }
    if profile.retries is not None:
        backoff = ExponentialWithJitterBackoff(base=0.05, cap=1.0) if profile.backoff else NoBackoff()
        options["retry"] = (AsyncRetry if asyncio else Retry)(backoff, profile.retries)
        options["retry_on_error"] = list(_ERRORS)
    return options


def _pool_bounds(profile: Profile) -> dict[str, Any]:
    return {"max_connections": profile.max_connections, "timeout": profile.pool_timeout_s}


def close_client(client: redis.Redis) -> None:
    """Close a client built here, and its connections to the sentinels when it has any."""
    client.close()
    for sentinel in _sentinels_of(client):
        sentinel.close()


async def aclose_client(client: aioredis.Redis) -> None:
    """Close an asyncio client built here, and its connections to the sentinels when it has any."""
    await client.aclose()
    for sentinel in _sentinels_of(client):
        await sentinel.aclose()


def _sentinels_of(client: redis.Redis | aioredis.Redis) -> list[Any]:
    manager = getattr(client.connection_pool, "sentinel_manager", None)
    return list(getattr(manager, "sentinels", []))
