"""Baseline for the end-to-end benchmark: plain Dramatiq RedisBroker and a no-op actor."""

from __future__ import annotations

import os

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
broker = RedisBroker(url=URL)
dramatiq.set_broker(broker)
counter = redis.Redis.from_url(URL)


@dramatiq.actor(queue_name="bare", max_retries=0)
def noop(i: int) -> None:
    """Do nothing but count."""
    counter.incr("bench:bare:done")
