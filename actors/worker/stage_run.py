"""One run of one stage on this worker: its start, its changes and its tracking, from start to end.

A ``StageRun`` is made when a message's stage is about to start and lives until the message is done (one
worker thread). It owns the run's tracking for the monitor: the start tracks it in the start's own
compare-and-set, ``note_gpu`` adds its lease, and an ending that leaves RUNNING forgets it in the ending's
script; ``untrack`` is the worker's one way to forget it otherwise (an ending that was not recorded). The
heartbeat is the host sidecar's (``actors.worker.sidecar``): this process may hold the GIL in C code.
Every change goes through ``change``, from the revision the run last wrote, with the run's companions
(``state.side_effects.Companions``): untrack on leaving RUNNING, ack the message when the stage ends.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import msgspec
import structlog
from redis.exceptions import RedisError

from actors.registry import TaskSpec
from actors.worker.broker import Delivery
from actors.worker.context import WorkerContext
from actors.worker.gpu import GpuSession
from actors.worker.runtime import TaskRun
from redis_io.errors import RedisUnavailable
from redis_io.retry import ride_out
from state import Fence, StageRecord, Status, changes, is_terminal
from state.records import MAX_CAS_ATTEMPTS
from state.side_effects import Companions
from state.tracking import RunInfo

log = structlog.get_logger(__name__)


@dataclass
class StageRun:
    """A stage this worker thread runs: what its hooks share, and its tracking."""

    context: WorkerContext
    spec: TaskSpec
    workflow_id: str
    task_name: str
    params: msgspec.Struct
    message_id: str
    task: TaskRun | None = None  # what the body sees; made once the stage started
    gpu: GpuSession | None = None
    error: BaseException | None = None
    output: dict[str, Any] | None = field(default=None)
    tracked: RunInfo | None = None
    known: tuple[StageRecord, int] | None = None  # the record and revision this run last wrote
    untracked: bool = False
    note: str | None = None  # the run's local note for the host's sidecar (``actors.worker.local_runs``)
    ended_ms: int | None = None  # when the body returned: the stage's finished_at, however late it is committed
    # the message's ack, when the broker lets the ending do it (``Delivery``); done once the ending committed it
    delivery: Delivery | None = None
    acked: bool = False

    @property
    def attempt(self) -> int:
        """Return the attempt this run is (1 before it started)."""
        return self.task.attempt if self.task is not None else 1

    def start(
        self, stage: StageRecord, rev: int, attempts: int = MAX_CAS_ATTEMPTS, message_note: str | None = None
    ) -> StageRecord:
        """Move the stage to RUNNING from ``(stage, rev)`` and track the run in the same script.

        ``message_note``: the first attempt also needs the stage's latest message to be this one (a start from
        the record its message carries).

        Raises:
            ConcurrentUpdate: the stage changed under each of ``attempts`` compare-and-sets.
            IllegalTransition: the stage cannot start (``PreconditionFailed``: it is neither PENDING nor RUNNING).
        """
        context = self.context
        track = functools.partial(
            context.tracking.run_info,
            workflow_id=self.workflow_id,
            settings=context.settings,
            message_id=self.message_id,
            config_version=context.live.version,
        )
        companions = Companions(track=track)
        started, new_rev = context.sync_store.update_stage_at(
            self.workflow_id,
            self.task_name,
            changes.start,
            known=(stage, rev),
            also=companions,
            attempts=attempts,
            message_note=message_note,
        )
        self._began(started, new_rev, companions.tracked)
        return started

    def adopt(self, stage: StageRecord, rev: int, tracked: RunInfo) -> None:
        """Take over the start this process and message already committed (its reply was lost)."""
        self._began(stage, rev, tracked)

    def _began(self, started: StageRecord, rev: int, tracked: RunInfo | None) -> None:
        self.known, self.tracked = (started, rev), tracked
        if tracked is not None:  # noted once tracked: the sidecar drops a note whose run it finds untracked
            self.note = self.context.tracking.local.add(tracked.run_id, tracked.pid)
        self.task = TaskRun(
            workflow_id=self.workflow_id,
            task_name=self.task_name,
            settings=self.context.settings,
            store=self.context.store,
            run_async=self.context.run_async,
            attempt=started.attempts,
        )

    def change(self, change: Any, fence: Fence | None = None, *, owned: bool = True) -> StageRecord:
        """Apply a named change from the revision this run last wrote (no extra read); return the new record.

        ``owned``: the change is passed this run's attempt, so it applies only while the stage still runs it
        (a run cut off from Redis whose stage the monitor re-queued must not end it). A result commit is not
        owned: its GPU fence refuses a cut-off holder, and a CPU result is valid whichever attempt made it.
        The change's script also forgets the run's tracking when the stage leaves RUNNING and acks the
        message when the stage ends.
        """
        if owned:
            change = functools.partial(change, attempt=self.attempt)
        companions = Companions(tracked=self.tracked, delivery=self.delivery)
        new, rev = self.context.sync_store.update_stage_at(
            self.workflow_id,
            self.task_name,
            change,
            fence=fence,
            known=self.known,
            also=companions,
        )
        self.known = (new, rev)
        if self.tracked is not None and new.status != Status.RUNNING:
            self._untracked()
        self.acked = self.acked or (self.delivery is not None and is_terminal(new.status))
        return new

    def note_gpu(self, session: GpuSession) -> None:
        """Hold the granted lease: in the run the body sees, in the run's tracking and in the stage record."""
        assert self.task is not None  # noqa: S101  (a lease is taken after the start)
        self.gpu = session
        self.task.gpu_device = session.device
        self.task.gpu_memory_mb = session.granted_mb
        self.context.tracking.note_gpu(self.tracked, session.device, session.lease.fencing_token)
        self.change(functools.partial(changes.note_gpu, gpu=session.record()))

    def untrack(self) -> None:
        """Stop tracking the run unless an ending already did (left tracked, its sidecar keeps it alive)."""
        if self.untracked or self.tracked is None:
            return
        tracked, tracker = self.tracked, self.context.tracking.tracker
        try:
            ride_out(lambda: tracker.end(tracked), what="untrack", limit_s=self.context.settings.redis_grace_s)
        except (RedisUnavailable, RedisError) as exc:
            log.warning("run_not_untracked", error=str(exc))
            return
        self._untracked()

    def _untracked(self) -> None:
        """Note the run forgotten in Redis, and remove its local note."""
        self.untracked = True
        note, self.note = self.note, None
        self.context.tracking.local.remove(note)
