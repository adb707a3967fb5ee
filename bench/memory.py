"""Redis memory of finished task records (MEMORY USAGE on real ones) and what a retention window needs."""

from __future__ import annotations

import statistics
from typing import Any

from config import keys

SAMPLE = 200
PER_DAY = 1_000_000
TTL_DAYS = 7  # the default state_ttl_s


def _usage(client: Any, key: Any) -> int:
    return int(client.memory_usage(key, samples=0) or 0)


def record_memory(client: Any) -> str:
    """Return a report: bytes per finished taskgate record (hash + index entries), Celery's result, 7-day total."""
    ids = [m.decode() for m in client.zrevrange(keys.TASK_INDEX, 0, SAMPLE - 1)]
    indexed = client.zcard(keys.TASK_INDEX)
    record = statistics.mean(_usage(client, keys.workflow_state(i)) for i in ids)
    index_keys = [keys.TASK_INDEX, keys.task_index_by_name("system.ping")]
    per_entry = sum(_usage(client, k) for k in index_keys) / max(indexed, 1)
    ours = record + per_entry
    results = list(client.scan_iter("celery-task-meta-*", count=1000))[:SAMPLE]  # a bench may scan
    celery = statistics.mean(_usage(client, k) for k in results) if results else 0.0
    total_gib = ours * PER_DAY * TTL_DAYS / 2**30
    return (
        f"Redis memory per finished task: {ours:.0f} B (workflow_state hash {record:.0f} B + index entries "
        f"{per_entry:.0f} B; MEMORY USAGE on {len(ids)} real records), Celery result {celery:.0f} B; "
        f"{PER_DAY:,} tasks/day x {TTL_DAYS}-day TTL = {PER_DAY * TTL_DAYS:,} records -> {total_gib:.1f} GiB"
    )
