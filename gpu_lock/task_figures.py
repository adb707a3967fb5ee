"""Figures kept per task type beside the lock: lease waits (a histogram) and measured GPU footprints.

Workers write them after a grant and after a run (``record_wait``, and ``actors.worker.gpu`` for footprints);
``read_status`` returns them with the devices, and the gateway's metrics and GPUs page show them.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from redis import Redis

from config import keys

# Histogram bounds in seconds: the same as the lock's (status.BUCKETS_S; lib.lua's BUCKETS).
BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)


class Footprint(msgspec.Struct, frozen=True, kw_only=True):
    """The last measured GPU memory of one task type and model, against what it declared."""

    task_name: str
    model: str | None
    declared_mb: int
    measured_mb: int
    measured_by: str
    over_declared: bool


def bucket_of(waited_s: float) -> str:
    """Return the ``le`` label of the bucket a wait falls into."""
    return next((f"{b:g}" for b in BUCKETS_S if waited_s <= b), "+Inf")


def record_wait(client: Redis, task_name: str, waited_s: float) -> None:
    """Count one lease wait of ``task_name`` (one round trip)."""
    pipe = client.pipeline(transaction=False)
    pipe.hincrby(keys.GPU_TASK_WAITS, f"{task_name}|bucket:{bucket_of(waited_s)}", 1)
    pipe.hincrby(keys.GPU_TASK_WAITS, f"{task_name}|ms_sum", int(waited_s * 1000))
    pipe.execute()


def record_footprint(client: Redis, task_name: str, model: str | None, fields: dict[str, Any]) -> None:
    """Keep the last measured footprint of ``task_name`` with ``model``."""
    client.hset(keys.GPU_FOOTPRINTS, f"{task_name}|{model or ''}", json.dumps(fields))


def parse_waits(raw: dict[str, str]) -> dict[str, tuple[list[tuple[str, int]], float]]:
    """Return each task type's cumulative wait buckets and sum in seconds."""
    per_task: dict[str, dict[str, str]] = {}
    for field, value in raw.items():
        task_name, _, name = field.partition("|")
        per_task.setdefault(task_name, {})[name] = value
    out = {}
    for task_name, fields in per_task.items():
        running, buckets = 0, []
        for bound in (*(f"{b:g}" for b in BUCKETS_S), "+Inf"):
            running += int(fields.get(f"bucket:{bound}", 0))
            buckets.append((bound, running))
        out[task_name] = (buckets, int(fields.get("ms_sum", 0)) / 1000)
    return out


def parse_footprints(raw: dict[str, str]) -> list[Footprint]:
    """Return the kept footprints, by task type and model."""
    out = []
    for field, value in sorted(raw.items()):
        task_name, _, model = field.partition("|")
        entry = json.loads(value)
        out.append(
            Footprint(
                task_name=task_name,
                model=model or None,
                declared_mb=int(entry.get("declared_mb", 0)),
                measured_mb=int(entry.get("measured_mb", 0)),
                measured_by=str(entry.get("by", "")),
                over_declared=int(entry.get("measured_mb", 0)) > int(entry.get("declared_mb", 0)) > 0,
            )
        )
    return out
