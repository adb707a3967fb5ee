"""The lifecycle middleware: every stage moves PENDING -> RUNNING -> SUCCESS | FAILED | CANCELLED here."""

from __future__ import annotations

import functools
import os
import socket
import threading
import uuid
from collections.abc import Awaitable
from typing import Any, NoReturn, TypeVar

import dramatiq
import msgspec
import redis
import structlog
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware, SkipMessage

from actors.errors import InputError, TaskCancelled, TransientError
from actors.registry import REGISTRY, TaskSpec
from actors.validation import decode_run_input
from actors.worker.broker import WakingRedisBroker, encode_message
from actors.worker.endings import Active, Endings
from actors.worker.gpu import GpuSession
from actors.worker.heartbeat import RunTracking, superseded
from actors.worker.redelivery import own_run, redeliver
from actors.worker.runtime import TaskRun
from config import Settings, keys
from redis_io.channel import Channel
from redis_io.clients import async_client, sync_client
from redis_io.errors import RedisUnavailable
from redis_io.retry import TRANSIENT_ERRORS, ride_out
from state import (
    BrokenReference,
    ConcurrentUpdate,
    DependencyNotReady,
    IllegalTransition,
    StageRecord,
    StateStore,
    Status,
    TaskNotFound,
    Workflow,
    changes,
    is_terminal,
)
from state.counter_batch import CounterBatch, add_to
from state.effects import Effects
from state.live import LiveSettings
from state.models import now_ms
from state.records import MAX_CAS_ATTEMPTS, parse_workflow, waiter_entry
from state.references import find_references, resolve
from state.retention import SyncStorageUsage
from state.sync_store import SyncStageStore
from state.tracking import RunInfo, SyncTracker, queue_start

T = TypeVar("T")
log = structlog.get_logger(__name__)
# Task figures batched while runs overlap are written on their own once they have waited this long.
FIGURES_OVERDUE_S = 0.5
# a started stage: its record, (record, revision) as last written, and its tracked run
_Start = tuple[StageRecord, tuple[StageRecord, int], RunInfo]


class Lifecycle(Endings, Middleware):  # type: ignore[misc]
    """Move stages through their statuses around each actor call; actor bodies never write status."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.host = socket.gethostname()
        self._local = threading.local()
        self._store: StateStore | None = None
        self._sync_store: SyncStageStore | None = None
        self._sync_redis: redis.Redis | None = None
        self._tracking: RunTracking | None = None
        self._storage: SyncStorageUsage | None = None
        self.live = LiveSettings(settings)
        self.counters = CounterBatch()  # this process's task figures not written yet (``state.counter_batch``)
        self._in_flight = 0  # runs started and not ended in this process: the last one's ending writes the figures
        self._in_flight_lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def store(self) -> StateStore:
        """Return the store, created in this process on first use (fork-safe)."""
        if self._store is None:
            self._store = StateStore(async_client(self.settings), self.settings.state_ttl_s)
        return self._store

    @property
    def sync_store(self) -> SyncStageStore:
        """Return the store the hooks use from worker threads, created on first use (fork-safe channel)."""
        if self._sync_store is None:
            self._sync_store = SyncStageStore(Channel(self.sync_redis), self.settings.state_ttl_s, self.counters)
        return self._sync_store

    @property
    def sync_redis(self) -> redis.Redis:
        """Return a synchronous client for the GPU lease lock, created on first use."""
        if self._sync_redis is None:
            self._sync_redis = sync_client(self.settings)
        return self._sync_redis

    @property
    def tracking(self) -> RunTracking:
        """Return the monitor's run tracking, created in this process on first use (fork-safe)."""
        if self._tracking is None:
            self._tracking = RunTracking(SyncTracker(self.sync_redis), self.host, os.getpid())
        return self._tracking

    def _adopt_settings(self, version: bytes | None) -> None:
        """Adopt settings changed through ``PUT /v1/monitor/config`` (their version is read with each workflow)."""
        try:
            self.settings = self.live.adopt_version(version, self.sync_store.channel)
        except redis.RedisError as exc:
            log.warning("live_settings_not_read", error=str(exc))

    def run_async(self, coro: Awaitable[T]) -> T:
        """Run a store coroutine on Dramatiq's event loop thread and return its result."""
        loop_thread = get_event_loop_thread()
        if loop_thread is None:
            raise RuntimeError("the AsyncIO middleware must run before the lifecycle")
        return loop_thread.run_coroutine(coro)

    @property
    def active(self) -> Active | None:
        """Return the stage this worker thread is running, if any."""
        return getattr(self._local, "active", None)

    # -- hooks --------------------------------------------------------------------------------------

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        """Start a stage: resolve its input, mark it RUNNING and take a GPU lease if it needs one.

        Redis errors are ridden out for ``redis_grace_s``; after that the message is sent again (delayed)
        rather than lost, and this delivery is skipped.
        """
        spec = REGISTRY.get(message.actor_name)
        if spec is None:
            return
        context = message.args[0]
        structlog.contextvars.bind_contextvars(task_id=context["workflow_id"], task_name=context["task_name"])
        self._local.active = None
        try:
            ride_out(
                lambda: self._begin(broker, message, spec), what="stage_start", limit_s=self.settings.redis_grace_s
            )
        except RedisUnavailable as exc:
            self._local.active = None
            redeliver(broker, message, str(exc))
            self._skip()
        active = self.active
        if active is not None and isinstance(broker, WakingRedisBroker):
            active.delivery = broker.delivery(message)

    def _begin(self, broker: dramatiq.Broker, message: MessageProxy, spec: TaskSpec) -> None:
        context = message.args[0]
        wid, name = context["workflow_id"], context["task_name"]
        if self._begin_from_snapshot(broker, message, spec):
            return
        try:
            workflow, version = self.sync_store.get_with(wid, ("GET", keys.CONFIG_VERSION))
            self._adopt_settings(version)
            stage, rev = workflow.stages[name], workflow.revisions[name]
        except (TaskNotFound, KeyError):
            log.warning("stage_missing", reason="expired or deleted")
            self._skip()
        if is_terminal(stage.status):
            log.info("stage_already_finished", status=stage.status)
            self._skip()
        if superseded(stage, message.message_id):
            log.info("stage_message_superseded", message_id=message.message_id)
            self._skip()
        params = self._prepare_input(broker, message, spec, workflow, stage)
        mine = own_run(
            self.tracking.tracker, wid, stage, host=self.host, pid=os.getpid(), message_id=message.message_id
        )
        if mine:
            log.info("stage_start_adopted", attempt=stage.attempts)
            started, known, tracked = stage, (stage, rev), mine
        else:
            started, known, tracked = self._start_run(message, wid, stage, rev)
        self._started(spec, wid, params, (started, known, tracked))

    def _begin_from_snapshot(self, broker: dramatiq.Broker, message: MessageProxy, spec: TaskSpec) -> bool:
        """Start the stage from the record read with its message's fetch; False to read afresh instead.

        Only the plain path: the stage PENDING under this message, its input its own (no references). One
        compare-and-set attempt; its revision matching means the record is the one read, so nothing the
        full path checks can differ. Nothing is written before it, so a False leaves no trace.
        """
        snapshots = getattr(broker, "snapshots", None)
        taken = snapshots.take(message.message_id) if snapshots is not None else None
        if taken is None:
            return False
        wid, name = message.args[0]["workflow_id"], message.args[0]["task_name"]
        workflow = parse_workflow(taken.workflow)
        stage = workflow.stages.get(name) if workflow is not None else None
        if workflow is None or stage is None or stage.status != Status.PENDING or superseded(stage, message.message_id):
            return False
        rev = workflow.revisions.get(name)
        if rev is None or find_references(stage.input_data):
            return False
        try:
            params = decode_run_input(spec, stage.input_data)
        except InputError:
            return False  # the full path fails the stage with the reason
        self._adopt_settings(taken.config_version)
        try:
            start = self._start_run(message, wid, stage, rev, attempts=1)
        except ConcurrentUpdate:
            return False
        self._started(spec, wid, params, start)
        return True

    def _started(self, spec: TaskSpec, wid: str, params: msgspec.Struct, start: _Start) -> None:
        """Hold the started run for the body and the ending; take its GPU lease when it needs one."""
        started, known, tracked = start
        log.info("stage_started", attempt=started.attempts, queue=spec.queue)
        run = TaskRun(
            workflow_id=wid,
            task_name=started.task_name,
            settings=self.settings,
            store=self.store,
            run_async=self.run_async,
            attempt=started.attempts,
        )
        active = Active(spec=spec, run=run, params=params, known=known)
        active.tracked = tracked
        self._local.active = active
        if spec.uses_gpu(self.settings, params):
            self._take_gpu(active)
        with self._in_flight_lock:
            self._in_flight += 1

    def _start_run(
        self, message: MessageProxy, wid: str, stage: StageRecord, rev: int, attempts: int = MAX_CAS_ATTEMPTS
    ) -> _Start:
        """Move the stage to RUNNING and track its run in the same script; return the record, revision, run.

        Raises:
            ConcurrentUpdate: the stage changed under each of ``attempts`` compare-and-sets.
        """
        tracked: list[RunInfo] = []

        def track_with(effects: Effects, new: StageRecord) -> None:  # the run is tracked in the same script
            tracked[:] = [self.tracking.run_info(new, wid, self.settings, message.message_id, self.live.version)]
            queue_start(effects, tracked[0])

        try:
            started, new_rev = self.sync_store.update_stage_at(
                wid, stage.task_name, changes.start, known=(stage, rev), also=track_with, attempts=attempts
            )
        except IllegalTransition as exc:
            log.info("stage_not_started", reason=str(exc))
            self._skip()
        return started, (started, new_rev), tracked[0]

    def _prepare_input(
        self, broker: dramatiq.Broker, message: MessageProxy, spec: TaskSpec, workflow: Workflow, stage: StageRecord
    ) -> msgspec.Struct:
        wid, name = workflow.meta.workflow_id, stage.task_name
        try:
            return decode_run_input(spec, resolve(stage.input_data, workflow.stages))
        except DependencyNotReady as exc:
            self._park(broker, message, workflow, stage, exc)
            self._skip()
        except (BrokenReference, InputError) as exc:
            self._finish(wid, name, Status.FAILED, error=exc)
            self._skip()

    def _park(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        workflow: Workflow,
        stage: StageRecord,
        waiting: DependencyNotReady,
    ) -> None:
        """Park the message on the stage it waits for; that stage's ending queues it (no polling).

        With priorities on it is queued in its client's lane of its band, as its submit would have been.
        """
        wid = workflow.meta.workflow_id
        again = message.copy(options={"redis_message_id": str(uuid.uuid4())})
        lane, meta = "", workflow.meta
        client = meta.tenant or meta.key or "open"
        if self.settings.queueing.priorities and stage.priority and not ("\t" in client or "\n" in client):
            key = next((k for k in self.settings.auth.api_keys if k.name == meta.key), None)
            lane = f"{stage.priority}|{(key.weight if key else None) or 1}|{client}"
        entry = waiter_entry(
            message.queue_name,
            message.args[0]["task_name"],
            again.options["redis_message_id"],
            encode_message(again),
            lane,
        )
        if self.sync_store.park(wid, waiting.task_name, entry):
            log.info("stage_waiting_for_dependency", reason=str(waiting), awaited=waiting.task_name)
        else:  # it ended between our read and the park: run now
            broker.enqueue(message.copy())

    def _take_gpu(self, active: Active) -> None:
        """Take the stage's lease; a transient Redis error gives it back and is raised (the start is retried)."""
        session = GpuSession(
            self.sync_redis,
            self.settings,
            active.run,
            host=self.host,
            pid=os.getpid(),
            spec=active.spec,
            params=active.params,
        )
        try:
            session.acquire()
        except TRANSIENT_ERRORS:
            session.release()
            raise
        except Exception as exc:  # noqa: BLE001  (any other failure to get a lease fails the stage with its message)
            session.release()
            # with ``active``: the failure is recorded from the start's revision and untracks the run in its script
            self._finish(active.run.workflow_id, active.run.task_name, Status.FAILED, error=exc, active=active)
            if not active.untracked:  # the ending was not recorded (the stage moved on): untrack on its own
                self.tracking.untrack(active.tracked)
            self._local.active = None
            self._skip()
        active.gpu = session
        active.run.gpu_device = session.device
        active.run.gpu_memory_mb = session.granted_mb
        try:
            self.tracking.note_gpu(active.tracked, session.device, session.lease.fencing_token)
            self._update(
                active.run.workflow_id,
                active.run.task_name,
                functools.partial(changes.note_gpu, gpu=session.record()),
                active=active,
            )
        except TRANSIENT_ERRORS:
            active.gpu = None
            session.release()
            raise

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        """End a stage: commit its output (fenced on its GPU lease), or record why it failed.

        The ending is retried until Redis takes it; the lease is released, the run untracked and the log
        context unbound whatever happened before.
        """
        active = self.active
        if active is None or message.actor_name not in REGISTRY:
            return
        self._local.active = None
        active.ended_ms = now_ms()  # an ending committed after a Redis outage still says when the work ended
        error = active.error or exception
        lost = active.gpu.lost if active.gpu else None
        if lost is not None and error is not None and not isinstance(error, TransientError):
            error = lost  # the body stopped because its lease ended: the stage fails with why it ended
        # A body that finished goes to its fenced commit even when its lease is known lost here: the fence
        # is the authority (it refuses and the stage fails as lease-lost, or the lease was in fact still held).
        try:
            ride_out(lambda: self._end(broker, message, active, error), what="stage_end")
            if active.acked and isinstance(broker, WakingRedisBroker):
                broker.acked_by_ending(message)
        except TaskNotFound:  # expired, purged, or Redis restarted empty while the stage ran: nothing to end
            log.warning("stage_end_record_gone", reason="the task's record vanished while its stage ran")
        finally:
            try:
                if active.gpu:
                    active.gpu.release()
            finally:
                if not active.untracked:
                    self._untrack(active)
                with self._in_flight_lock:
                    self._in_flight -= 1
                self._measure_storage(active.run.workflow_id)
                structlog.contextvars.unbind_contextvars("task_id", "task_name")

    def _end(self, broker: dramatiq.Broker, message: MessageProxy, active: Active, error: BaseException | None) -> None:
        run = active.run
        if error is None:
            self._commit_success(active)
        elif isinstance(error, TaskCancelled):
            self._finish(run.workflow_id, run.task_name, Status.CANCELLED, error=error, gpu=active.gpu, active=active)
        elif isinstance(error, TransientError) and run.attempt <= self.settings.retry_policy(run.task_name).max_retries:
            self._retry(broker, message, active, error)
        else:
            self._finish(run.workflow_id, run.task_name, Status.FAILED, error=error, gpu=active.gpu, active=active)

    def _untrack(self, active: Active) -> None:
        """Stop tracking the run (left tracked, its sidecar would keep it alive until the hard tier)."""
        tracked = active.tracked
        if tracked is None:
            return
        try:
            ride_out(lambda: self.tracking.tracker.end(tracked), what="untrack", limit_s=self.settings.redis_grace_s)
        except RedisUnavailable as exc:
            log.warning("run_not_untracked", error=str(exc))

    def _measure_storage(self, wid: str) -> None:
        """Record the bytes the workflow's folder holds now that one of its stages ended."""
        try:
            if self._storage is None:
                self._storage = SyncStorageUsage(self.sync_redis)
            self._storage.measure(self.settings.share_root, wid)
        except (OSError, redis.RedisError) as exc:
            log.warning("storage_not_measured", error=str(exc))

    def before_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        """Start the thread that writes task figures no ending picked up in time (one long run keeps a batch)."""
        self._stopping.clear()
        self._flusher = threading.Thread(target=self._flush_overdue, name="taskgate-figures", daemon=True)
        self._flusher.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        """Stop the figures thread."""
        self._stopping.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        """Write the task figures still batched (the last endings have run)."""
        self._write_figures(0.0)

    def _flush_overdue(self) -> None:
        while not self._stopping.wait(FIGURES_OVERDUE_S):
            self._write_figures(FIGURES_OVERDUE_S)

    def _write_figures(self, overdue_s: float) -> None:
        """Write the batched task figures on their own when they have waited ``overdue_s``."""
        taken = self.counters.overdue(overdue_s)
        if not taken:
            return
        try:
            with self.sync_redis.pipeline(transaction=False) as pipe:
                add_to(pipe, taken)
                pipe.execute()
        except redis.RedisError as exc:
            self.counters.put_back(taken)
            log.warning("task_figures_not_written", error=str(exc))

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        """Forget a skipped message's log context."""
        structlog.contextvars.unbind_contextvars("task_id", "task_name")

    # -- endings ------------------------------------------------------------------------------------

    @staticmethod
    def _skip() -> NoReturn:
        raise SkipMessage()
