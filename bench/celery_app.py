"""Baseline of bench_celery.py: a Celery app on the same Redis, a no-op task that counts, results stored."""

from __future__ import annotations

import os

import redis
from celery import Celery

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
app = Celery("bench", broker=URL, backend=URL)
# The worker shape taskgate runs: acks after the task (at-least-once), results kept as the task's state record.
app.conf.update(task_acks_late=True, task_default_queue="celery_bench", worker_hijack_root_logger=False)
counter = redis.Redis.from_url(URL)


@app.task(name="bench.noop")
def noop(i: int) -> int:
    """Do nothing but count."""
    counter.incr("bench:celery:done")
    return i
