"""Task figures a worker process adds up before writing them: a few increments per batch instead of five per task.

A stage's transitions add to the task figures (``state.task_metrics``): a finished count, a run-time and a
queue-wait observation, five hash increments per task. A worker process collects them here once each
transition has committed and writes the sums with a later transition's script, as effects that commit with
it: a batch goes out with the first ending after it is ``flush_after_s`` old, so a busy process writes its
figures about twice a second whatever its rate. A batch no ending picks up in time (the process went idle,
or one long run keeps it busy) is written on its own by the worker's figures thread (``overdue``), and what
is left at shutdown. Readers (``/metrics``, the console) see a figure at most about a second late, as they do
the lease figures (``gpu_lock.lease_figures``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from config import keys

# A batch goes out with the first ending after it is this old (seconds).
FLUSH_AFTER_S = 0.5


class Increments:
    """The figures one transition adds: the ``hincrby``/``hincrbyfloat`` calls ``queue_transition`` makes."""

    def __init__(self) -> None:
        self.by_field: dict[str, float] = {}

    def hincrby(self, key: str, field: str, amount: int) -> None:
        """Add ``amount`` to ``field`` (``key`` is always the task figures' hash)."""
        self.by_field[field] = self.by_field.get(field, 0) + amount

    def hincrbyfloat(self, key: str, field: str, amount: float) -> None:
        """Add ``amount`` to ``field``."""
        self.by_field[field] = self.by_field.get(field, 0.0) + amount


def add_to(target: Any, by_field: dict[str, float]) -> None:
    """Queue ``by_field`` as increments of the task figures' hash on ``target`` (effects or a pipeline)."""
    for field, amount in by_field.items():
        if isinstance(amount, float):
            target.hincrbyfloat(keys.TASK_METRICS, field, amount)
        else:
            target.hincrby(keys.TASK_METRICS, field, amount)


class CounterBatch:
    """The figures of committed transitions not written yet, shared by a worker process's threads."""

    def __init__(self, flush_after_s: float = FLUSH_AFTER_S) -> None:
        self.flush_after_s = flush_after_s
        self._pending: dict[str, float] = {}
        self._since: float | None = None
        self._lock = threading.Lock()

    def add(self, increments: Increments) -> None:
        """Keep a committed transition's figures for a later write."""
        if not increments.by_field:
            return
        with self._lock:
            self._merge(increments.by_field)

    def take(self) -> dict[str, float]:
        """Return (and hand over) what a transition's script should write now: the batch once it is due."""
        return self.overdue(self.flush_after_s)

    def put_back(self, taken: dict[str, float]) -> None:
        """Keep ``taken`` again: the script that was to write it did not commit."""
        if taken:
            with self._lock:
                self._merge(taken)

    def overdue(self, after_s: float) -> dict[str, float]:
        """Return (and hand over) the batch when it has waited longer than ``after_s``; else nothing."""
        with self._lock:
            if not self._pending or time.monotonic() - (self._since or 0.0) < after_s:
                return {}
            taken, self._pending, self._since = self._pending, {}, None
            return taken

    def _merge(self, by_field: dict[str, float]) -> None:
        for field, amount in by_field.items():
            self._pending[field] = self._pending.get(field, 0) + amount
        if self._since is None:
            self._since = time.monotonic()
