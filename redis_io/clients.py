"""The redis-py clients of worker-side processes: timeouts, and commands retried on a fresh connection.

``Redis.from_url`` alone retries nothing: after a Redis restart the first command on a pooled connection
can fail with "Connection closed by server". These clients retry a command that failed on its connection
(or could not connect) a few times, with a short backoff, and bound every wait, so a paused or
unreachable server yields an error the caller can ride out instead of a hang.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

DEFAULT_URL = "redis://127.0.0.1:6379/0"
# Longer than any blocking command the worker side sends (they bound themselves by this timeout).
SOCKET_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 5.0
RETRIES = 3
_ERRORS = [RedisConnectionError, RedisTimeoutError, ConnectionResetError]


def _options() -> dict[str, Any]:
    return {
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "retry_on_error": list(_ERRORS),
        "health_check_interval": 0,
    }


def sync_client(url: str | None) -> redis.Redis:
    """Return a synchronous client whose commands are retried on a fresh connection."""
    retry = Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), RETRIES)
    return redis.Redis.from_url(url or DEFAULT_URL, retry=retry, **_options())


def async_client(url: str | None) -> aioredis.Redis:
    """Return an asyncio client whose commands are retried on a fresh connection."""
    retry = AsyncRetry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), RETRIES)
    return aioredis.Redis.from_url(url or DEFAULT_URL, retry=retry, **_options())
