"""Task figures kept in Redis on stage transitions, so every process (gateway, monitor) can report them.

Written with a stage's status change (``state.side_effects.queue_transition``): queue wait on
PENDING -> RUNNING, outcome and run time when it ends. Histograms store per-bucket counts
(``<name>_bucket:<task>:<le>``) that readers cumulate, and the sum (``<name>_sum:<task>``); the count is
the buckets' total (two writes per observation, not three). Times are seconds.
"""

from __future__ import annotations

from typing import Any

import msgspec

from config import keys

BUCKETS_S = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
HISTOGRAMS = ("run_seconds", "queue_wait_seconds")


class TaskHistogram(msgspec.Struct, kw_only=True):
    """Cumulative ``(le, count)`` buckets ending with ``+Inf``, sum and count, for one task_name."""

    buckets: list[tuple[str, int]]
    sum_s: float
    count: int


class TaskFigures(msgspec.Struct, kw_only=True):
    """Everything the metrics hash holds, parsed."""

    finished: dict[tuple[str, str], int]
    histograms: dict[str, dict[str, TaskHistogram]]


def _bucket(seconds: float) -> str:
    for bound in BUCKETS_S:
        if seconds <= bound:
            return f"{bound:g}"
    return "+Inf"


def queue_observe(pipe: Any, name: str, task_name: str, seconds: float) -> None:
    """Queue one histogram observation (sync or async pipeline)."""
    seconds = max(0.0, seconds)
    pipe.hincrby(keys.TASK_METRICS, f"{name}_bucket:{task_name}:{_bucket(seconds)}", 1)
    pipe.hincrbyfloat(keys.TASK_METRICS, f"{name}_sum:{task_name}", seconds)


def parse_figures(raw: dict[Any, Any]) -> TaskFigures:
    """Parse the metrics hash."""
    finished: dict[tuple[str, str], int] = {}
    counts: dict[str, dict[str, dict[str, float]]] = {name: {} for name in HISTOGRAMS}
    for field_, value in raw.items():
        field = field_.decode() if isinstance(field_, bytes) else field_
        kind, _, rest = field.partition(":")
        if kind == "finished_total":
            task_name, _, outcome = rest.rpartition(":")
            finished[(task_name, outcome)] = int(value)
            continue
        name, _, part = kind.rpartition("_")
        if name not in counts:
            continue
        if part == "bucket":
            task_name, _, le = rest.rpartition(":")
            counts[name].setdefault(task_name, {})[le] = float(value)
        elif part == "sum":  # a "_count" field, written before the count was the buckets' total, is not read
            counts[name].setdefault(rest, {})["_sum"] = float(value)
    histograms = {name: {task: _cumulate(values) for task, values in per.items()} for name, per in counts.items()}
    return TaskFigures(finished=finished, histograms=histograms)


def _cumulate(values: dict[str, float]) -> TaskHistogram:
    running = 0
    buckets: list[tuple[str, int]] = []
    for bound in (*(f"{b:g}" for b in BUCKETS_S), "+Inf"):
        running += int(values.get(bound, 0))
        buckets.append((bound, running))
    return TaskHistogram(buckets=buckets, sum_s=values.get("_sum", 0.0), count=running)
