"""The workflow store: every read and write of ``workflow_state:{workflow_id}`` goes through here."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import msgspec
import redis.asyncio as aioredis

from config import keys
from redis_io import AsyncChannel, as_mapping, text
from state import changes
from state.create_call import CREATE_STAGE, Placement, QueuedMessage, create_stage_call
from state.effects import Effects
from state.errors import (
    ConcurrentUpdate,
    LeaseNotHeld,
    LimitExceeded,
    PreconditionFailed,
    StageFinished,
    TaskConflict,
    TaskNotFound,
)
from state.limits import SubmitKey
from state.models import StageRecord, Workflow, now_ms
from state.records import (
    HAND_OVER,
    MAX_CAS_ATTEMPTS,
    UPDATE_STAGE,
    Fence,
    cas_call,
    cas_outcome,
    hand_over_call,
    has_waiters,
    parse_stage,
    parse_workflow,
    prepare_change,
    stage_fields,
)
from state.search import Origin, TaskFilter, search
from state.transitions import QUEUED, is_terminal

# The indexes of workflows drop their expired entries on a submit at most this often per task_name (readers
# skip them by score meanwhile), instead of on every submit.
_TRIM_EVERY_S = 1.0
_encoder = msgspec.json.Encoder()


class CreateOutcome(StrEnum):
    """What ``create_stage`` did."""

    CREATED = "created"
    EXISTS = "exists"


class StateStore:
    """Asynchronous access to workflow state; scripts are registered once per client."""

    def __init__(self, client: aioredis.Redis, ttl_s: int) -> None:
        self.client = client
        self.ttl_ms = ttl_s * 1000
        self.channel = AsyncChannel(client)  # the submit, read and compare-and-set paths; the rest use the client
        self._trimmed: dict[str, float] = {}  # task_name -> when its submit last trimmed the indexes (monotonic)

    async def create_stage(
        self,
        workflow_id: str,
        task_name: str,
        input_data: dict[str, Any],
        callback: str | None = None,
        message: QueuedMessage | None = None,
        *,
        run_at_ms: int | None = None,
        key: SubmitKey | None = None,
        placement: Placement | None = None,
        origin: Origin | None = None,
    ) -> tuple[CreateOutcome, Workflow]:
        """Create a PENDING stage (queueing ``message`` atomically with it), or find the identical one.

        With ``run_at_ms`` the stage is SCHEDULED and ``message`` waits until then (``state.schedule``). With
        ``key`` the key's limits are checked and its counts kept in the same step (``state.limits``).
        ``origin`` (the API key, tenant and labels) is written into a new workflow's meta and search indexes.
        Returns what happened and the workflow as it now is, in one round trip.

        Raises:
            TaskConflict: the stage exists with different input.
            LimitExceeded: the key is at one of its limits (an identical resubmit is never refused).
        """
        call = create_stage_call(
            workflow_id,
            task_name,
            input_data,
            callback,
            message,
            self.ttl_ms,
            trim=self._trim_due(task_name),
            run_at_ms=run_at_ms,
            key=key,
            placement=placement,
            origin=origin,
        )
        stage_json, meta_json, script_keys, args = call
        reply = await CREATE_STAGE.run(self.channel, script_keys, args)
        outcome = text(reply[0])
        if outcome == "conflict":
            raise TaskConflict(
                f"task {workflow_id!r} already has a {task_name!r} stage with different input_data; "
                "use a new task_id to run it again"
            )
        if outcome == "limited":
            wait = int(reply[4])
            raise LimitExceeded(
                key.name if key else "", text(reply[1]), int(reply[2]), int(reply[3]), wait if wait >= 0 else None
            )
        if reply[1]:
            raw = as_mapping(reply[1])
        else:  # a new workflow: the script wrote exactly these fields
            raw = {b"meta": meta_json, f"stage:{task_name}".encode(): stage_json, f"rev:{task_name}".encode(): b"1"}
            raw[b"latest"] = task_name.encode()
        workflow = parse_workflow(raw)
        if workflow is None:  # pragma: no cover  (the script just wrote it)
            raise TaskNotFound(f"task {workflow_id!r} vanished while it was created")
        return CreateOutcome(outcome), workflow

    def create_call(
        self,
        workflow_id: str,
        task_name: str,
        input_data: dict[str, Any],
        *,
        callback: str | None = None,
        message: QueuedMessage | None = None,
        callback_stage: str | None = None,
        input_params: dict[str, Any] | None = None,
    ) -> tuple[list[Any], list[Any], tuple[bytes, bytes]]:
        """Return the keys and arguments of the create script for one stage, and the stage and meta JSON.

        ``callback_stage``: only that stage's ending calls the callback back (a pipeline's own stage), not
        every stage's; ``input_params``: the workflow's input when it is not this stage's.
        """
        stage_json, meta_json, script_keys, args = create_stage_call(
            workflow_id,
            task_name,
            input_data,
            callback,
            message,
            self.ttl_ms,
            trim=self._trim_due(task_name),
            callback_stage=callback_stage,
            input_params=input_params,
        )
        return script_keys, args, (stage_json, meta_json)

    def _trim_due(self, task_name: str) -> bool:
        """Return whether this submit also drops the expired entries of the indexes it adds to (once a second)."""
        now = time.monotonic()
        if now - self._trimmed.get(task_name, float("-inf")) < _TRIM_EVERY_S:
            return False
        self._trimmed[task_name] = now
        return True

    async def get(self, workflow_id: str) -> Workflow:
        """Return a workflow.

        Raises:
            TaskNotFound: no workflow has this id (or it expired).
        """
        wf = parse_workflow(as_mapping(await self.channel.execute("HGETALL", keys.workflow_state(workflow_id))))
        if wf is None:
            raise TaskNotFound(f"no task with id {workflow_id!r}")
        return wf

    async def get_stage(self, workflow_id: str, task_name: str) -> tuple[StageRecord, int]:
        """Return a stage and its revision.

        Raises:
            TaskNotFound: the workflow or stage does not exist.
        """
        raw, rev = await self.client.hmget(keys.workflow_state(workflow_id), stage_fields(task_name))
        return parse_stage(workflow_id, task_name, raw, rev)

    async def update_stage(
        self,
        workflow_id: str,
        task_name: str,
        change: Callable[[StageRecord], StageRecord],
        fence: Fence | None = None,
    ) -> StageRecord:
        """Apply ``change`` to a stage atomically (see ``update_stage_at``); return the new record."""
        new, _rev = await self.update_stage_at(workflow_id, task_name, change, fence=fence)
        return new

    async def update_stage_at(
        self,
        workflow_id: str,
        task_name: str,
        change: Callable[[StageRecord], StageRecord],
        *,
        fence: Fence | None = None,
        known: tuple[StageRecord, int] | None = None,
        also: Callable[[Effects, StageRecord], None] | None = None,
    ) -> tuple[StageRecord, int]:
        """Apply ``change`` to a stage atomically, retrying when another writer got there first.

        ``known`` is the record and revision the caller last saw: when still current, no read is needed.
        ``also`` may add writes that commit with the update (it gets the effects and the new record).
        Returns the new record and its revision.

        ``change`` gets the current record and returns the new one; a status change is checked
        against the table of legal transitions, and the commit can be fenced on a GPU lease.

        Raises:
            TaskNotFound: the stage does not exist.
            IllegalTransition: ``change`` asked for a move the table forbids.
            LeaseNotHeld: ``fence`` names a lease that is no longer held.
            ConcurrentUpdate: the stage kept changing for too many attempts.
        """
        key = keys.workflow_state(workflow_id)
        for _ in range(MAX_CAS_ATTEMPTS):
            current, rev = known if known is not None else await self.get_stage(workflow_id, task_name)
            known = None
            new, effects = prepare_change(workflow_id, current, change, also)
            reply = await self.cas(key, task_name, rev, new, fence=fence, effects=effects)
            committed = cas_outcome(reply, workflow_id, task_name)
            if committed is not None:
                if has_waiters(reply):
                    await self.hand_over(workflow_id, task_name)
                return new, committed
        raise ConcurrentUpdate(f"stage {task_name!r} of {workflow_id!r} kept changing")

    async def hand_over(self, workflow_id: str, ended: str) -> int:
        """Queue the messages parked on stage ``ended`` (it has just ended); return how many."""
        key = keys.workflow_state(workflow_id)
        for _ in range(MAX_CAS_ATTEMPTS):
            parked = await self.channel.execute("HGET", key, f"waiters:{ended}")
            if parked is None:
                return 0
            queued = int(await HAND_OVER.run(self.channel, *hand_over_call(key, ended, parked)))
            if queued >= 0:
                return queued
        raise ConcurrentUpdate(f"the waiters of {ended!r} of {workflow_id!r} kept changing")

    async def cas(
        self,
        key: str,
        task_name: str,
        rev: int,
        new: StageRecord,
        *,
        fence: Fence | None = None,
        effects: Effects | None = None,
    ) -> Any:
        """Run the compare-and-set script for one stage and return its raw reply.

        ``effects`` are applied in the same script, only if the update is made.
        """
        script_keys, args = cas_call(key, task_name, rev, new, ttl_ms=self.ttl_ms, fence=fence, effects=effects)
        return await UPDATE_STAGE.run(self.channel, script_keys, args)

    async def request_stage_cancels(self, stages: list[tuple[str, str]]) -> None:
        """Ask running stages ``(workflow_id, task_name)`` to stop at their next checkpoint (the soft tier)."""
        async with self.client.pipeline(transaction=False) as pipe:
            for workflow_id, task_name in stages:
                pipe.hset(keys.workflow_state(workflow_id), f"cancel:{task_name}", now_ms())
            await pipe.execute()

    async def set_progress(self, workflow_id: str, task_name: str, fraction: float) -> None:
        """Record a running stage's progress (0..1)."""
        key = keys.workflow_state(workflow_id)
        value = f"{max(0.0, min(1.0, fraction)):.4f}"
        event = {"type": "progress", "workflow_id": workflow_id, "task_name": task_name, "progress": value}
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(key, f"progress:{task_name}", value)
            pipe.pexpire(key, self.ttl_ms)
            pipe.xadd(keys.EVENTS, event, maxlen=keys.EVENTS_KEPT, approximate=True)  # type: ignore[arg-type]
            await pipe.execute()

    async def request_cancel(self, workflow_id: str, task_name: str | None = None) -> StageRecord:
        """Cancel the latest stage (or ``task_name``): a pending one ends now, a running one is asked to stop.

        Returns the stage as the cancel left it: CANCELLED when it had not started, else as it was when
        asked (it stops at its next checkpoint; by the time the caller reads it again it may have ended).

        Raises:
            TaskNotFound: no such workflow.
            StageFinished: the latest stage already ended.
        """
        wf = await self.get(workflow_id)
        name = task_name or wf.latest
        stage = wf.stages[name]
        if is_terminal(stage.status):
            raise StageFinished(f"task {workflow_id!r} already ended as {stage.status}")
        await self.client.hset(keys.workflow_state(workflow_id), f"cancel:{name}", now_ms())
        if stage.status not in QUEUED:
            return stage
        try:
            return await self.update_stage(workflow_id, name, changes.cancel_pending)
        except PreconditionFailed as exc:  # it started meanwhile: the flag stops it
            return exc.stage

    async def set_callback_status(self, workflow_id: str, task_name: str, status_json: bytes) -> None:
        """Record a stage's webhook delivery state (a field of its own, so it never races stage CAS)."""
        key = keys.workflow_state(workflow_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(key, keys.CALLBACK_FIELD.format(task_name=task_name), status_json)
            pipe.pexpire(key, self.ttl_ms)
            await pipe.execute()

    async def cancel_requested(self, workflow_id: str, task_name: str) -> bool:
        """Return whether someone asked this stage to stop."""
        return bool(await self.client.hexists(keys.workflow_state(workflow_id), f"cancel:{task_name}"))

    async def list_recent(self, task_name: str | None, status: str | None, limit: int) -> list[Workflow]:
        """Return recent workflows, newest first, from the indexes (``state.search``; no key scans)."""
        ids, _ = await search(self.channel, self.ttl_ms, TaskFilter(task_name=task_name, status=status), limit)
        return await self.get_many(ids)

    async def get_many(self, workflow_ids: list[str]) -> list[Workflow]:
        """Return the workflows of ``workflow_ids`` that still exist, in that order (one pipeline)."""
        if not workflow_ids:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for wid in workflow_ids:
                pipe.hgetall(keys.workflow_state(wid))
            raws = await pipe.execute()
        return [wf for wf in map(parse_workflow, raws) if wf is not None]


__all__ = ["CreateOutcome", "Fence", "LeaseNotHeld", "StateStore", "parse_workflow"]
