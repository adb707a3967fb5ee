"""PENDING stages whose message is in no queue: sent again, so no accepted stage waits forever.

Every stage entering PENDING is indexed (``taskgate:stages:pending``, from the server's clock), and the
latest message sent for it is noted in its record (field ``message:{task_name}``: queue and Redis message id;
the submit script and the broker's enqueue write it). A pass reads only the index's entries older than
``gpu_lock_monitor.pending_timeout``: a stage no longer PENDING is dropped from the index; one whose message
is still queued (or fetched and not acked) is checked again a timeout later; one whose message is gone
(an enqueue lost between a retry's commit and its send, a start hook that failed before this fix) gets a
new message, recorded as a ``redelivered`` event that supersedes any older message of the stage.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

import redis.asyncio as aioredis

from config import GpuLockMonitorSettings, keys
from monitor.actions import Enqueue
from monitor.journal import event_for, record_event
from redis_io import text
from state import IllegalTransition, StateStore, TaskNotFound, changes

MAX_PER_PASS = 100


class PendingSweep:
    """Find PENDING stages past the timeout without a message and send them again."""

    def __init__(self, client: aioredis.Redis, store: StateStore, enqueue: Enqueue | None) -> None:
        self.client = client
        self.store = store
        self.enqueue = enqueue

    async def check(self, settings: GpuLockMonitorSettings, now: int) -> int:
        """Look at the PENDING stages due at server time ``now`` (ms); return how many were sent again."""
        if self.enqueue is None:
            return 0
        horizon = now - int(settings.pending_timeout * 1000)
        due = [text(m) for m in await self.client.zrangebyscore(keys.PENDING_STAGES, "-inf", horizon, 0, MAX_PER_PASS)]
        if not due:
            return 0
        async with self.client.pipeline(transaction=False) as pipe:
            for rid in due:
                workflow_id, _, task_name = rid.rpartition("|")
                fields = [f"status:{task_name}", keys.stage_message_field(task_name), f"parked:{task_name}"]
                pipe.hmget(keys.workflow_state(workflow_id), fields)
            replies = await pipe.execute()
        statuses, notes, parked = zip(*replies, strict=True)
        stale = [rid for rid, status in zip(due, statuses, strict=True) if status is None or text(status) != "PENDING"]
        waiting = [(rid, note) for rid, status, note in zip(due, statuses, notes, strict=True) if rid not in stale]
        # a stage parked on the stage it waits for has its message there: that stage's ending queues it
        queued = await self._queued(waiting) | {rid for rid, mark in zip(due, parked, strict=True) if mark}
        async with self.client.pipeline(transaction=False) as pipe:
            if stale:
                pipe.zrem(keys.PENDING_STAGES, *stale)
            lost = [rid for rid, _ in waiting if rid not in queued]
            if queued or lost:  # looked at: checked again a timeout later
                pipe.zadd(keys.PENDING_STAGES, dict.fromkeys([*queued, *lost], now), xx=True)
            await pipe.execute()
        sent = 0
        for rid in lost:
            sent += await self._send_again(rid)
        return sent

    async def _queued(self, waiting: list[tuple[str, Any]]) -> set[str]:
        """Return the stages among ``waiting`` whose noted message still exists in its queue."""
        noted = [(rid, text(note).split("\n", 1)) for rid, note in waiting if note is not None]
        if not noted:
            return set()
        async with self.client.pipeline(transaction=False) as pipe:
            for _, (queue, message_id) in noted:
                pipe.hexists(keys.dramatiq_messages(queue), message_id)
            found = await pipe.execute()
        return {rid for (rid, _), exists in zip(noted, found, strict=True) if exists}

    async def _send_again(self, rid: str) -> int:
        if self.enqueue is None:
            return 0
        workflow_id, _, task_name = rid.rpartition("|")
        message_id = uuid.uuid4().hex
        reason = "PENDING past gpu_lock_monitor.pending_timeout with no message in any queue"

        try:
            await self.store.update_stage(
                workflow_id, task_name, functools.partial(changes.redeliver, message_id=message_id)
            )
        except (TaskNotFound, IllegalTransition):  # PreconditionFailed: it left PENDING meanwhile
            return 0
        await self.enqueue(workflow_id, task_name, message_id)
        event = event_for("pending", None, reason, task_id=workflow_id, task_name=task_name, action="redelivered")
        await record_event(self.client, event)
        return 1
