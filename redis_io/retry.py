"""Transient Redis failures: which errors pass, and riding them out with backoff.

A refused or dropped connection, a timeout, "max number of clients reached", a server still loading its
data after a restart, out of memory or read-only all pass; other error replies do not. Worker-side calls
that must not fail a task go through ``ride_out``; redis-py clients built by ``redis_io.clients`` also
retry each command a few times on a fresh connection.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from redis_io.errors import RedisUnavailable

T = TypeVar("T")
log = structlog.get_logger(__name__)

# Waits between tries: doubling from FIRST_WAIT_S up to MAX_WAIT_S, with +/- 20 % jitter.
FIRST_WAIT_S = 0.05
MAX_WAIT_S = 2.0
# A failure streak is logged on its first error and then at most once per this many seconds.
LOG_EVERY_S = 5.0

# A full server (maxmemory) and a replica that was just demoted refuse writes until an operator or a
# failover fixes them: they pass too.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    OutOfMemoryError,
    ReadOnlyError,
)


def backoff_s(failures: int) -> float:
    """Return the wait after ``failures`` consecutive failures (1 for the first)."""
    wait_s = min(MAX_WAIT_S, FIRST_WAIT_S * 2 ** max(0, failures - 1))
    jittered: float = wait_s * random.uniform(0.8, 1.2)
    return jittered


def ride_out(call: Callable[[], T], *, what: str, limit_s: float | None = None) -> T:
    """Return ``call()``, calling it again after transient Redis errors, with backoff.

    ``limit_s`` bounds the whole wait (None: until Redis answers).

    Raises:
        RedisUnavailable: Redis stayed unreachable for ``limit_s`` (the last error is its cause).
    """
    started = time.monotonic()
    failures, logged = 0, 0.0
    while True:
        try:
            result = call()
        except TRANSIENT_ERRORS as exc:
            failures += 1
            waited_s = time.monotonic() - started
            if limit_s is not None and waited_s >= limit_s:
                raise RedisUnavailable(f"{what}: Redis unreachable for {waited_s:.1f} s: {exc}") from exc
            if failures == 1 or time.monotonic() - logged >= LOG_EVERY_S:
                logged = time.monotonic()
                log.warning(
                    "redis_unreachable", what=what, error=str(exc), failures=failures, waited_s=round(waited_s, 3)
                )
            wait_s = backoff_s(failures)
            if limit_s is not None:
                wait_s = min(wait_s, max(0.0, limit_s - waited_s))
            time.sleep(wait_s)
            continue
        if failures:
            log.info(
                "redis_reachable_again", what=what, failures=failures, waited_s=round(time.monotonic() - started, 3)
            )
        return result
