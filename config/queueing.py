"""How queued stages are taken: priorities, fairness between clients, and their defaults."""

from __future__ import annotations

from typing import Literal

import msgspec

from config.section import PositiveSeconds, Section

Priority = Literal["high", "normal", "low"]
# Taken in this order (band 0 first); aging moves a waiting message up one band per ``aging_s`` waited.
PRIORITIES: tuple[Priority, ...] = ("high", "normal", "low")


class QueueingSettings(Section):
    """Priorities and fairness (``POST /v1/tasks`` ``priority``; per-key ``priority``/``weight``/``tenant``).

    ``priorities: false`` goes back to the plain FIFO path: a submit queues its message on the queue's one
    list, and workers prefetch as Dramatiq does (messages already in priority lanes are still taken).
    """

    priorities: bool = True
    # a message waiting this long counts one band higher (low -> normal -> high): low is never starved
    aging_s: PositiveSeconds = 60.0
    # the priority of a task type when neither the submit nor the key names one
    task_priority: dict[str, Priority] = msgspec.field(default_factory=dict)
    default_priority: Priority = "normal"
