"""The monitor: heartbeats, tiered timeouts that act, automatic recovery, lock health and history.

``Monitor.run`` is an asyncio coroutine: the gateway runs it by default (``gpu_lock_monitor.enabled``)
and ``python -m monitor`` runs it alone. A leader lease in Redis lets exactly one monitor act.
"""

from monitor.actions import Actions, Enqueue
from monitor.dispatch import stage_enqueue
from monitor.errors import MonitorError
from monitor.journal import MonitorEvent
from monitor.journal import recent as recent_events
from monitor.leader import Leader, current_leader, lease_ms
from monitor.loop import MAX_PER_PASS, Monitor, PassReport

__all__ = [
    "MAX_PER_PASS",
    "Actions",
    "Enqueue",
    "Leader",
    "Monitor",
    "MonitorError",
    "MonitorEvent",
    "PassReport",
    "current_leader",
    "lease_ms",
    "recent_events",
    "stage_enqueue",
]
