"""What each tier does to a run: warn, ask to stop, or stop for real and recover.

Hard tier and dead heartbeat share one recovery: the stage ends FAILED with the reason (or, for a
dead worker, goes back to PENDING under a new message once), the run is forgotten, the GPU lease is
force-released by its fencing token, and for the hard tier the host's sidecar is told to SIGKILL the
worker process. The CAS on the stage comes first: if the worker committed in between, nothing is killed.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import redis.asyncio as aioredis

from config import Settings, keys
from gpu_lock import GpuLockError, aforce_release, aread_status
from monitor.journal import event_for, record_event
from state import IllegalTransition, StageError, StageRecord, StateStore, TaskNotFound, changes, now_ms
from state.batch import update_stages
from state.tracking import AsyncTracker, RunInfo

# Sends a new message for a stage: (workflow_id, task_name, message_id).
Enqueue = Callable[[str, str, str], Awaitable[None]]
# A kill order nobody took (its host is gone) disappears after this.
KILL_ORDER_TTL_S = 3600

_encoder = msgspec.json.Encoder()


@dataclass
class Actions:
    """The monitor's hands: the store, the tracker, the lock and a way to re-queue."""

    client: aioredis.Redis
    store: StateStore
    tracker: AsyncTracker
    enqueue: Enqueue | None

    async def mark_tier(self, tier: str, due: list[tuple[RunInfo, float]]) -> None:
        """Warning or soft tier for several runs at once: a stage entry, a counter, a log event each.

        The soft tier also asks each stage to stop: the same cooperative cancel as ``DELETE /v1/tasks/{id}``.
        """
        if not due:
            return
        if tier == "soft":
            await self.store.request_stage_cancels([(run.workflow_id, run.task_name) for run, _ in due])
        at = now_ms()
        changes = [
            (
                run.workflow_id,
                run.task_name,
                _with_event(
                    {
                        "type": "timeout",
                        "tier": tier,
                        "at_ms": at,
                        "run_time_s": round(age_s, 3),
                        "limit_s": run.limits_s[tier],
                    }
                ),
            )
            for run, age_s in due
        ]
        await update_stages(self.store, changes)  # a stage that ended meanwhile gets no entry
        await record_event(
            self.client,
            *(event_for(tier, run, _tier_detail(tier, run, age_s), action=tier) for run, age_s in due),
        )

    async def stop_hard(self, run: RunInfo, run_time_s: float, settings: Settings) -> None:
        """Hard tier: free the lease, fail the stage, kill the worker process.

        The lease goes first, so a client that sees the stage ended also sees the GPU free (and a late
        commit of the run is refused by its fence either way).
        """
        limit = run.limits_s["hard"]
        reason = f"stopped by the monitor: ran {run_time_s:.1f} s, past the hard timeout of {limit:g} s"
        await self._release_lease(run, reason, settings)
        ended = await self._end(run, StageError(type="HardTimeout", message=reason))
        await self.tracker.forget([run.run_id])
        if ended:
            await self._order_kill(run, reason)
        action = "killed" if ended else "already_finished"
        await record_event(self.client, event_for("hard", run, reason, action=action))

    async def recover_dead(self, run: RunInfo, settings: Settings) -> None:
        """Dead heartbeat: free the lease, then re-queue the stage once or fail it."""
        timeout_s = settings.gpu_lock_monitor.heartbeat.timeout
        reason = f"the worker process {run.pid} on {run.host} is gone (no heartbeat within {timeout_s:g} s)"
        message_id = uuid.uuid4().hex
        requeue = settings.gpu_lock_monitor.requeue_dead_tasks and self.enqueue is not None
        await self._release_lease(run, reason, settings)  # first: a stage seen ended implies the GPU is free
        action = "requeued" if requeue and await self._back_to_pending(run, reason, message_id) else ""
        if not action:
            action = "failed" if await self._end(run, StageError(type="WorkerLost", message=reason)) else "none"
        await self.tracker.forget([run.run_id])
        if action == "requeued" and self.enqueue is not None:
            await self.enqueue(run.workflow_id, run.task_name, message_id)
        await record_event(self.client, event_for("dead", run, reason, action=action))

    async def _end(self, run: RunInfo, error: StageError) -> bool:
        try:
            await self.store.update_stage(run.workflow_id, run.task_name, functools.partial(changes.fail, error=error))
        except (TaskNotFound, IllegalTransition):  # PreconditionFailed: it left RUNNING meanwhile
            return False
        return True

    async def _back_to_pending(self, run: RunInfo, reason: str, message_id: str) -> bool:
        requeue = functools.partial(changes.requeue, reason=reason, message_id=message_id)
        try:
            await self.store.update_stage(run.workflow_id, run.task_name, requeue)
        except (TaskNotFound, IllegalTransition):  # PreconditionFailed: it left RUNNING, or was re-queued once
            return False
        return True

    async def _release_lease(self, run: RunInfo, reason: str, settings: Settings) -> None:
        """Force-release the run's lease: by the fencing token its record names, or else by its holder identity.

        A worker can die after its lease is granted and before its run record names the lease; the
        lock's own holder info (task, host, pid) still identifies it, so it is not left to its TTL.
        """
        leases = [(run.gpu_device, run.fencing_token)] if run.gpu_device is not None else []
        if not leases or run.fencing_token is None:
            status = await aread_status(self.client, settings.gpu_lock)
            leases = [
                (device.device, holder.fencing_token)
                for device in status.devices
                for holder in device.holders
                if (holder.task_id, holder.task_name, holder.host, holder.pid)
                == (run.workflow_id, run.task_name, run.host, run.pid)
            ]
        for device, fencing_token in leases:
            if fencing_token is None:
                continue
            try:
                await aforce_release(self.client, settings.gpu_lock, device, fencing_token, reason)
            except GpuLockError as exc:
                await record_event(self.client, event_for("lease", run, f"not released: {exc}"))

    async def _order_kill(self, run: RunInfo, reason: str) -> None:
        order = {"pid": run.pid, "run_id": run.run_id, "reason": reason}
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.rpush(keys.kill_orders(run.host), _encoder.encode(order))
            pipe.expire(keys.kill_orders(run.host), KILL_ORDER_TTL_S)
            await pipe.execute()


def _with_event(event: dict[str, Any]) -> Callable[[StageRecord], StageRecord]:
    return functools.partial(changes.note_event, event=event)


def _tier_detail(tier: str, run: RunInfo, age_s: float) -> str:
    limit = run.limits_s[tier]
    if tier == "soft":
        return f"running for {age_s:.1f} s, past the soft timeout of {limit:g} s: asked to stop"
    return f"running for {age_s:.1f} s, past the warning tier of {limit:g} s"
