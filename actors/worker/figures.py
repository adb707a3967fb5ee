"""The worker's task figures that no ending picked up in time, written on their own.

Endings carry the batched figures (``state.counter_batch``) in their scripts; a batch no ending picks up
within ``FIGURES_OVERDUE_S`` (the process went idle, or one long run keeps it busy) is written by this
thread, which looks every ``FIGURES_TICK_S``, so a figure is written at most about a second after its ending;
what is left is written at shutdown.
"""

from __future__ import annotations

import threading

import redis
import structlog

from actors.worker.context import WorkerContext
from state.counter_batch import add_to

log = structlog.get_logger(__name__)
# Task figures no ending took are written on their own once they have waited this long (seconds) ...
FIGURES_OVERDUE_S = 0.75
# ... looked at this often.
FIGURES_TICK_S = 0.25


class FiguresWriter:
    """A thread that writes the context's overdue task figures."""

    def __init__(self, context: WorkerContext) -> None:
        self.context = context
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        """Start the thread."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._flush_overdue, name="taskgate-figures", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _flush_overdue(self) -> None:
        while not self._stopping.wait(FIGURES_TICK_S):
            self.write(FIGURES_OVERDUE_S)

    def write(self, overdue_s: float) -> None:
        """Write the batched task figures on their own when they have waited ``overdue_s``."""
        counters = self.context.counters
        taken = counters.overdue(overdue_s)
        if not taken:
            return
        try:
            with self.context.sync_redis.pipeline(transaction=False) as pipe:
                add_to(pipe, taken)
                pipe.execute()
        except redis.RedisError as exc:
            counters.put_back(taken)
            log.warning("task_figures_not_written", error=str(exc))
