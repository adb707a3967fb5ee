"""Later start: SCHEDULED stages wait in a sorted set by their ``run_at`` and are released when it comes.

The submit script keeps a scheduled stage's Dramatiq message in its record (field ``scheduled:{task_name}``)
and indexes the stage in ``taskgate:stages:scheduled`` (score: run_at ms). ``Scheduler.release_due`` moves
each due stage SCHEDULED -> PENDING through the stores' compare-and-set, with the message's enqueue as effects
of the same step: a stage is queued exactly once, whichever process (every gateway runs a scheduler) gets
there first, and nothing is lost across restarts (the set and the messages live in Redis). A cancel of a
SCHEDULED stage ends it CANCELLED and drops it from the set in one step, so it never runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from config import keys
from redis_io import text
from state import changes
from state.errors import ConcurrentUpdate, PreconditionFailed, TaskNotFound
from state.models import now_ms
from state.side_effects import Companions

if TYPE_CHECKING:
    from state.store import StateStore

log = structlog.get_logger(__name__)

# Stages released per round; more go on in the next round at once.
BATCH = 100
# The longest a scheduler waits between two looks at the head of the set (a stage starts this late at most,
# plus the queue's own wait).
POLL_S = 0.25


class Scheduler:
    """Release the SCHEDULED stages whose time has come (any number of schedulers may run at once)."""

    def __init__(self, client: aioredis.Redis, store: StateStore) -> None:
        self.client = client
        self.store = store

    async def release_due(self, limit: int = BATCH) -> int:
        """Queue the stages due now (at most ``limit``); return how many this call released."""
        due = await self.client.zrangebyscore(keys.SCHEDULED_STAGES, "-inf", now_ms(), start=0, num=limit)
        released = 0
        for member in due:
            rid = text(member)
            workflow_id, _, task_name = rid.partition("|")
            outcome = await self._release(workflow_id, task_name)
            if outcome is True:
                released += 1
            elif outcome is False:  # ended, released elsewhere, or its record expired: not due any more
                await self.client.zrem(keys.SCHEDULED_STAGES, rid)
        return released

    async def _release(self, workflow_id: str, task_name: str) -> bool | None:
        """Release one stage: True when done here, False when it is not SCHEDULED any more, None to try again."""
        found = await self.client.hget(keys.workflow_state(workflow_id), keys.scheduled_field(task_name))
        if found is None:
            return False
        entry = found if isinstance(found, bytes) else found.encode()

        try:
            await self.store.update_stage_at(
                workflow_id, task_name, changes.release, also=Companions(released=(workflow_id, entry))
            )
        except (PreconditionFailed, TaskNotFound):  # cancelled, or released elsewhere
            return False
        except ConcurrentUpdate:  # the record kept changing: the next round tries again
            log.warning("scheduled_release_contended", task_id=workflow_id, task_name=task_name)
            return None
        log.debug("stage_released", task_id=workflow_id, task_name=task_name)
        return True

    async def next_due_s(self) -> float:
        """Return the seconds until the earliest scheduled stage is due (``POLL_S`` at most)."""
        head = await self.client.zrange(keys.SCHEDULED_STAGES, 0, 0, withscores=True)
        if not head:
            return POLL_S
        return min(POLL_S, max(0.0, (float(head[0][1]) - now_ms()) / 1000))

    async def run(self, stop: asyncio.Event) -> None:
        """Release due stages until ``stop`` is set; a Redis failure is logged and the loop goes on."""
        while not stop.is_set():
            try:
                if await self.release_due() >= BATCH:
                    continue
                wait_s = await self.next_due_s()
            except RedisError as exc:
                log.warning("scheduler_redis_failed", error=str(exc))
                wait_s = 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait_s)
