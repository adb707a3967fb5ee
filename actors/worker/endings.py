"""How a run ends its stage: commit the output (fenced on its lease), retry, or record why it failed.

``Endings`` is the part of the lifecycle middleware (``actors.worker.lifecycle``) that writes a stage's end,
always through the named changes of ``state.changes`` and only while the run still owns the stage.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dramatiq
import msgspec
import structlog
from dramatiq.broker import MessageProxy

from actors.registry import TaskSpec
from actors.worker.broker import Delivery
from actors.worker.gpu import GpuSession
from actors.worker.runtime import TaskRun
from config import Settings, keys
from redis_io.retry import ride_out
from state import (
    Fence,
    IllegalTransition,
    LeaseNotHeld,
    StageError,
    StageRecord,
    Status,
    changes,
    is_terminal,
)
from state.effects import Effects
from state.storage import public_message
from state.sync_store import SyncStageStore
from state.tracking import RunInfo, run_id

log = structlog.get_logger(__name__)


@dataclass
class Active:
    """What the middleware keeps between a message's hooks (same worker thread)."""

    spec: TaskSpec
    run: TaskRun
    params: msgspec.Struct
    gpu: GpuSession | None = None
    error: BaseException | None = None
    output: dict[str, Any] | None = field(default=None)
    tracked: RunInfo | None = None
    known: tuple[StageRecord, int] | None = None
    untracked: bool = False
    ended_ms: int | None = None  # when the body returned: the stage's finished_at, however late it is committed
    # the message's ack, when the broker lets the ending do it (``Delivery``); done once the ending committed it
    delivery: Delivery | None = None
    acked: bool = False


class Endings:
    """The lifecycle's writes of a stage's end (mixed into ``Lifecycle``, which provides the store)."""

    settings: Settings
    host: str
    _in_flight: int  # runs started and not ended in this process

    @property
    def sync_store(self) -> SyncStageStore:
        """Return the store the hooks use from worker threads."""
        raise NotImplementedError

    def _update(
        self,
        wid: str,
        name: str,
        change: Any,
        fence: Fence | None = None,
        *,
        active: Active | None = None,
        attempt: int | None = None,
        owned_only: bool = True,
    ) -> StageRecord:
        """Change a stage; with ``active``, start from the revision this run last wrote (no extra read).

        With ``active`` (or ``attempt``) and ``owned_only``, the change applies only while the stage is still
        RUNNING this run's attempt: a run cut off from Redis whose stage the monitor re-queued meanwhile must
        not end it (``StaleAttempt``). A result commit passes ``owned_only=False``: its GPU fence refuses a
        cut-off holder, and a CPU result is a valid result whichever attempt produced it.
        With ``active``, a change that ends the run also stops tracking it on this host in
        the same script, and a change that ends the stage acks its message there too (``Delivery``).
        """
        attempt = active.run.attempt if active and attempt is None else attempt
        if attempt is not None and owned_only:
            change = functools.partial(_owned_by, attempt, change)
        known = active.known if active else None
        also = functools.partial(self._end_with, wid, active) if active else None
        last_run = self._in_flight <= 1  # ending the only run in flight: the batched task figures go with it
        new, rev = self.sync_store.update_stage_at(
            wid, name, change, fence=fence, known=known, also=also, last_run=last_run
        )
        if active:
            active.known = (new, rev)
            ended = new.status != Status.RUNNING
            active.untracked = active.untracked or (active.tracked is not None and ended)
            active.acked = active.acked or (active.delivery is not None and is_terminal(new.status))
        return new

    def _end_with(self, wid: str, active: Active, effects: Effects, new: StageRecord) -> None:
        """Add what ends the run to the change's script: untrack it on this host, ack a terminal stage's message."""
        if new.status != Status.RUNNING and active.tracked is not None:
            # the transition's bookkeeping already forgets the run itself
            effects.hdel(keys.run_host(self.host), run_id(wid, new.task_name))
        if active.delivery is not None and is_terminal(new.status):
            # Dramatiq's ack (dispatch.lua "ack"): the message leaves the consumer's ack set and the queue's hash
            effects.srem(active.delivery.acks_key, active.delivery.redis_message_id)
            effects.hdel(active.delivery.messages_key, active.delivery.redis_message_id)

    def _commit_success(self, active: Active) -> None:
        run = active.run
        fence = active.gpu.fence() if active.gpu else None
        gpu_record = active.gpu.record(released=True) if active.gpu else None

        try:
            self._update(
                run.workflow_id,
                run.task_name,
                functools.partial(changes.succeed, output=active.output, gpu=gpu_record, at_ms=active.ended_ms),
                fence,
                active=active,
                owned_only=False,
            )
        except LeaseNotHeld as exc:
            log.error("stage_result_discarded", reason=str(exc))  # noqa: TRY400  (an expected condition)
            self._finish(run.workflow_id, run.task_name, Status.FAILED, error=exc, gpu=active.gpu, attempt=run.attempt)
            return
        except IllegalTransition as exc:
            log.warning("stage_result_discarded", reason=str(exc))
            return
        log.info("stage_succeeded")

    def _retry(self, broker: dramatiq.Broker, message: MessageProxy, active: Active, error: BaseException) -> None:
        policy = self.settings.retry_policy(active.run.task_name)
        delay_s = min(policy.max_backoff_s, policy.min_backoff_s * 2 ** (active.run.attempt - 1))
        delay_ms = int(delay_s * 1000 * random.uniform(0.8, 1.2))

        reason = _error_of(error, self.settings.share_root).message
        back_to_pending = functools.partial(changes.retry, error_message=reason)
        try:
            self._update(active.run.workflow_id, active.run.task_name, back_to_pending, active=active)
        except IllegalTransition:
            return
        log.warning("stage_retrying", error=str(error), delay_ms=delay_ms, attempt=active.run.attempt)
        ride_out(lambda: broker.enqueue(message.copy(), delay=delay_ms), what="stage_retry_enqueue")

    def _finish(
        self,
        wid: str,
        name: str,
        status: Status,
        *,
        error: BaseException,
        gpu: GpuSession | None = None,
        active: Active | None = None,
        attempt: int | None = None,
    ) -> None:
        record = _error_of(error, self.settings.share_root)
        gpu_record = gpu.record(released=True) if gpu else None
        if active is None and attempt is None:  # refused before it ran (its input)
            change: Any = functools.partial(changes.reject, error=record)
        else:
            ended_ms = active.ended_ms if active else None
            change = functools.partial(changes.end, status=status, error=record, gpu=gpu_record, at_ms=ended_ms)
        try:
            self._update(wid, name, change, active=active, attempt=attempt)
        except IllegalTransition as exc:
            log.warning("stage_end_not_recorded", reason=str(exc), status=status)
            return
        event = "stage_cancelled" if status == Status.CANCELLED else "stage_failed"
        log.warning(event, error_type=record.type, error=record.message)


def _owned_by(attempt: int, change: Any, stage: StageRecord) -> StageRecord:
    changes.require("owned", stage, changes.RUNNING, attempt=attempt)
    new: StageRecord = change(stage)
    return new


def _error_of(error: BaseException, root: Path) -> StageError:
    """Return the error as clients see it: no server paths outside the storage root's view, no errno numbers."""
    return StageError(type=type(error).__name__, message=public_message(str(error) or type(error).__name__, root))
