"""PENDING stages whose message is in no queue: sent again, so no accepted stage waits forever.

Every stage entering PENDING is indexed (``taskgate:stages:pending``, from the server's clock), and the
latest message sent for it is noted (``taskgate:stages:messages``: queue and Redis message id; the submit
script and the broker's enqueue write it). A pass reads only the index's entries older than
``gpu_lock_monitor.pending_timeout``: a stage no longer PENDING is dropped from the index; one whose message
is still queued (or fetched and not acked) is checked again a timeout later; one whose message is gone
(an enqueue lost between a retry's commit and its send, a start hook that failed before this fix) gets a
new message, recorded as a ``redelivered`` event that supersedes any older message of the stage.
"""

from __future__ import annotations

import uuid
from typing import Any

import redis.asyncio as aioredis

from config import Settings, keys
from monitor import journal
from monitor.actions import Enqueue
from monitor.errors import StageNotPending
from state import IllegalTransition, StageRecord, StateStore, Status, TaskNotFound, now_ms
from state.tracking import REDELIVERED_EVENT

MAX_PER_PASS = 100


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class PendingSweep:
    """Find PENDING stages past the timeout without a message and send them again."""

    def __init__(self, client: aioredis.Redis, store: StateStore, enqueue: Enqueue | None) -> None:
        self.client = client
        self.store = store
        self.enqueue = enqueue

    async def check(self, settings: Settings, now: int) -> int:
        """Look at the PENDING stages due at server time ``now`` (ms); return how many were sent again."""
        if self.enqueue is None:
            return 0
        horizon = now - int(settings.gpu_lock_monitor.pending_timeout * 1000)
        due = [_text(m) for m in await self.client.zrangebyscore(keys.PENDING_STAGES, "-inf", horizon, 0, MAX_PER_PASS)]
        if not due:
            return 0
        async with self.client.pipeline(transaction=False) as pipe:
            for rid in due:
                workflow_id, _, task_name = rid.rpartition("|")
                pipe.hget(keys.workflow_state(workflow_id), f"status:{task_name}")
                pipe.hget(keys.STAGE_MESSAGES, rid)
            replies = await pipe.execute()
        statuses, notes = replies[0::2], replies[1::2]
        stale = [rid for rid, status in zip(due, statuses, strict=True) if status is None or _text(status) != "PENDING"]
        waiting = [(rid, note) for rid, status, note in zip(due, statuses, notes, strict=True) if rid not in stale]
        queued = await self._queued(waiting)
        async with self.client.pipeline(transaction=False) as pipe:
            if stale:
                pipe.zrem(keys.PENDING_STAGES, *stale)
                pipe.hdel(keys.STAGE_MESSAGES, *stale)
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
        noted = [(rid, _text(note).split("\n", 1)) for rid, note in waiting if note is not None]
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

        def mark(stage: StageRecord) -> StageRecord:
            if stage.status != Status.PENDING:
                raise StageNotPending(stage.status)
            stage.events.append({"type": REDELIVERED_EVENT, "at_ms": now_ms(), "message_id": message_id})
            return stage

        try:
            await self.store.update_stage(workflow_id, task_name, mark)
        except (StageNotPending, TaskNotFound, IllegalTransition):
            return 0
        await self.enqueue(workflow_id, task_name, message_id)
        event = journal.event_for(
            "pending", None, reason, task_id=workflow_id, task_name=task_name, action="redelivered"
        )
        await journal.record(self.client, event)
        return 1
