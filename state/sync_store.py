"""The worker's synchronous access to stage state: the same reads and compare-and-set as ``StateStore``.

A Dramatiq worker thread reads a workflow and moves its stage twice per task. Through ``StateStore``
each of those calls hops to the event-loop thread and back (about 300 us of CPU each on a 2-core
machine); here they go straight over a ``Channel`` from the worker thread (about 30 us), with the same
Lua script and the same rules (``prepare_change``, ``cas_call`` and ``cas_outcome`` are shared).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redis.exceptions import ResponseError

from config import keys
from redis_io import Channel, as_mapping
from state.counter_batch import CounterBatch, Increments, add_to
from state.effects import Effects
from state.errors import ConcurrentUpdate, TaskNotFound
from state.models import StageRecord, Workflow
from state.records import (
    HAND_OVER,
    MAX_CAS_ATTEMPTS,
    PARK_WAITER,
    UPDATE_STAGE,
    Fence,
    cas_call,
    cas_outcome,
    hand_over_call,
    has_waiters,
    park_call,
    parse_stage,
    parse_workflow,
    prepare_change,
    stage_fields,
)


class SyncStageStore:
    """Read workflows and update stages from a worker thread."""

    def __init__(self, channel: Channel, ttl_s: int, counters: CounterBatch | None = None) -> None:
        self.channel = channel
        self.ttl_ms = ttl_s * 1000
        self._update = UPDATE_STAGE
        # a worker's batch of task figures (``state.counter_batch``); None writes them with each transition
        self.counters = counters

    def get_with(self, workflow_id: str, command: tuple[Any, ...]) -> tuple[Workflow, Any]:
        """Return a workflow and the raw reply of ``command``, sent in the same round trip.

        Raises:
            TaskNotFound: no workflow has this id (or it expired).
            ResponseError: Redis refused ``command``.
        """
        raw, extra = self.channel.execute_many(("HGETALL", keys.workflow_state(workflow_id)), command)
        if isinstance(extra, ResponseError):
            raise extra
        workflow = parse_workflow(as_mapping(raw))
        if workflow is None:
            raise TaskNotFound(f"no task with id {workflow_id!r}")
        return workflow, extra

    def get_stage(self, workflow_id: str, task_name: str) -> tuple[StageRecord, int]:
        """Return a stage and its revision.

        Raises:
            TaskNotFound: the workflow or stage does not exist.
        """
        raw, rev = self.channel.execute("HMGET", keys.workflow_state(workflow_id), *stage_fields(task_name))
        return parse_stage(workflow_id, task_name, raw, rev)

    def update_stage_at(
        self,
        workflow_id: str,
        task_name: str,
        change: Callable[[StageRecord], StageRecord],
        *,
        fence: Fence | None = None,
        known: tuple[StageRecord, int] | None = None,
        also: Callable[[Effects, StageRecord], None] | None = None,
        attempts: int = MAX_CAS_ATTEMPTS,
        message_note: str | None = None,
    ) -> tuple[StageRecord, int]:
        """Apply ``change`` to a stage atomically; see ``StateStore.update_stage_at``.

        ``attempts=1`` with ``known`` tries that record alone: a lost race raises ``ConcurrentUpdate``.
        ``message_note`` (with ``known``): that attempt also needs the stage's latest message to be this one
        (its queue and Redis message id), as a start from the record its message carries does.
        With ``counters``, the change's task figures join the batch, and the script writes the batch (with this
        change's figures) when it is due: see ``CounterBatch``.

        Raises:
            TaskNotFound: the stage does not exist.
            IllegalTransition: ``change`` asked for a move the table forbids.
            LeaseNotHeld: ``fence`` names a lease that is no longer held.
            ConcurrentUpdate: the stage kept changing for too many attempts.
        """
        key = keys.workflow_state(workflow_id)
        for _ in range(attempts):
            current, rev = known if known is not None else self.get_stage(workflow_id, task_name)
            note, known, message_note = (message_note if known is not None else None), None, None
            increments = Increments() if self.counters is not None else None
            new, effects = prepare_change(workflow_id, current, change, also, increments)
            batch, written = self._figures_now(effects, increments)
            script_keys, args = cas_call(
                key, task_name, rev, new, ttl_ms=self.ttl_ms, fence=fence, effects=effects, message_note=note
            )
            try:
                reply = self._update(self.channel, script_keys, args)
                committed = cas_outcome(reply, workflow_id, task_name)
            except BaseException:
                self._after(batch, increments, committed=False, written=written)
                raise
            self._after(batch, increments, committed=committed is not None, written=written)
            if committed is not None:
                if has_waiters(reply):
                    self.hand_over(workflow_id, task_name)
                return new, committed
        raise ConcurrentUpdate(f"stage {task_name!r} of {workflow_id!r} kept changing")

    def _figures_now(self, effects: Effects, increments: Increments | None) -> tuple[dict[str, float], bool]:
        """Add the batch (and this change's figures) to the script when due; return the batch taken, and whether."""
        if self.counters is None or increments is None:
            return {}, False
        batch = self.counters.take()
        if not batch:
            return {}, False
        merged = dict(batch)
        for field, amount in increments.by_field.items():
            merged[field] = merged.get(field, 0) + amount
        add_to(effects, merged)
        return batch, True

    def _after(self, batch: dict[str, float], increments: Increments | None, *, committed: bool, written: bool) -> None:
        """Give the batch back what a script that did not commit was to write; keep a committed change's figures.

        A lost race's own figures go with it (the change did not happen).
        """
        if self.counters is None:
            return
        if not committed:
            self.counters.put_back(batch)
        elif not written and increments is not None:
            self.counters.add(increments)

    def park(self, workflow_id: str, awaited: str, entry: bytes) -> bool:
        """Park a waiting stage's message on ``awaited``; False when that stage has ended (run it now)."""
        script_keys, args = park_call(keys.workflow_state(workflow_id), awaited, entry)
        return bool(PARK_WAITER(self.channel, script_keys, args))

    def hand_over(self, workflow_id: str, ended: str) -> int:
        """Queue the messages parked on stage ``ended`` (it has just ended); return how many."""
        key = keys.workflow_state(workflow_id)
        for _ in range(MAX_CAS_ATTEMPTS):
            parked = self.channel.execute("HGET", key, f"waiters:{ended}")
            if parked is None:
                return 0
            queued = int(HAND_OVER(self.channel, *hand_over_call(key, ended, parked)))
            if queued >= 0:
                return queued
        raise ConcurrentUpdate(f"the waiters of {ended!r} of {workflow_id!r} kept changing")
