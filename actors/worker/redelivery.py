"""A task start that Redis interrupted: find a start that did commit, or send the message again.

The lifecycle's start hook retries while Redis is unreachable (``redis_grace_s``). A start whose
compare-and-set reached Redis but whose reply was lost left the stage RUNNING under this very process and
message: the retry adopts that run rather than starting it a second time. A start that still cannot
reach Redis after the grace is not dropped: a copy of its message goes to the delay queue (retried until
it is accepted) before Dramatiq acks the original, so the stage always keeps a message.
"""

from __future__ import annotations

from typing import Any

import dramatiq
import structlog
from dramatiq.broker import MessageProxy

from redis_io.retry import ride_out
from state import StageRecord, Status
from state.tracking import RunInfo, SyncTracker, run_id

log = structlog.get_logger(__name__)

# A start given up on is tried again this much later.
REDELIVER_DELAY_MS = 1000


def own_run(
    tracker: SyncTracker, workflow_id: str, stage: StageRecord, *, host: str, pid: int, message_id: str
) -> RunInfo | None:
    """Return the run this process and message already started for ``stage``, if that is what it shows."""
    if stage.status != Status.RUNNING:
        return None
    info = tracker.get(run_id(workflow_id, stage.task_name))
    if info is None:
        return None
    mine = (info.host, info.pid, info.message_id, info.attempt) == (host, pid, message_id, stage.attempts)
    return info if mine else None


def redeliver(broker: dramatiq.Broker, message: MessageProxy, reason: str) -> Any:
    """Queue a copy of ``message`` on the delay queue, retrying until Redis takes it; return the copy."""
    log.warning("stage_start_deferred", reason=reason, delay_ms=REDELIVER_DELAY_MS)
    return ride_out(lambda: broker.enqueue(message.copy(), delay=REDELIVER_DELAY_MS), what="stage_redeliver")
