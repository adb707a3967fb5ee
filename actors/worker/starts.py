"""How a message's stage starts: read it, resolve its input, move it to RUNNING, take its GPU lease.

A submit's message carries its new stage's record (``state.create_call``): the plain start uses it and reads
nothing (``_from_carried``); every other start reads the record (``_from_record``).

``Starts`` takes the worker's context and the endings (an input that cannot run, or a lease that cannot
be had, fails the stage). ``begin`` returns the started ``StageRun``, or raises ``SkipMessage`` when the
message has nothing to run (its stage ended, moved on, waits for another, or is gone).
"""

from __future__ import annotations

import os
import uuid
from typing import NoReturn

import dramatiq
import msgspec
import structlog
from dramatiq.broker import MessageProxy
from dramatiq.middleware import SkipMessage

from actors.errors import InputError
from actors.registry import TaskSpec
from actors.validation import decode_run_input
from actors.worker.broker import encode_message
from actors.worker.context import WorkerContext
from actors.worker.endings import Endings
from actors.worker.gpu import GpuSession
from actors.worker.heartbeat import superseded
from actors.worker.redelivery import own_run
from actors.worker.stage_run import StageRun
from config import keys
from redis_io.retry import TRANSIENT_ERRORS
from state import (
    BrokenReference,
    ConcurrentUpdate,
    DependencyNotReady,
    IllegalTransition,
    StageRecord,
    Status,
    TaskNotFound,
    Workflow,
    is_terminal,
)
from state.create_call import STAGE_OPTION
from state.records import MAX_CAS_ATTEMPTS, waiter_entry
from state.references import find_references, resolve

log = structlog.get_logger(__name__)


def skip() -> NoReturn:
    """Tell Dramatiq to skip the message (it is acked without running the actor)."""
    raise SkipMessage()


class Starts:
    """Start a message's stage for the lifecycle's first hook."""

    def __init__(self, context: WorkerContext, endings: Endings) -> None:
        self.context = context
        self.endings = endings

    def begin(self, broker: dramatiq.Broker, message: MessageProxy, spec: TaskSpec) -> StageRun:
        """Start the message's stage and return its run (with its GPU lease when it takes one)."""
        run = self._from_carried(broker, message, spec) or self._from_record(broker, message, spec)
        log.info("stage_started", attempt=run.attempt, queue=spec.queue)
        if spec.uses_gpu(self.context.settings, run.params):
            self._take_gpu(run)
        return run

    def _from_record(self, broker: dramatiq.Broker, message: MessageProxy, spec: TaskSpec) -> StageRun:
        context = self.context
        wid, name = message.args[0]["workflow_id"], message.args[0]["task_name"]
        try:
            workflow, version = context.sync_store.get_with(wid, ("GET", keys.CONFIG_VERSION))
            context.adopt_settings(version)
            stage, rev = workflow.stages[name], workflow.revisions[name]
        except (TaskNotFound, KeyError):
            log.warning("stage_missing", reason="expired or deleted")
            skip()
        if is_terminal(stage.status):
            log.info("stage_already_finished", status=stage.status)
            skip()
        if superseded(stage, message.message_id):
            log.info("stage_message_superseded", message_id=message.message_id)
            skip()
        params = self._prepare_input(broker, message, workflow, stage, spec)
        run = StageRun(context, spec, wid, name, params, message.message_id)
        tracker = context.tracking.tracker
        mine = own_run(tracker, wid, stage, host=context.host, pid=os.getpid(), message_id=run.message_id)
        if mine:
            log.info("stage_start_adopted", attempt=stage.attempts)
            run.adopt(stage, rev, mine)
        else:
            self._start(run, stage, rev)
        return run

    def _from_carried(self, broker: dramatiq.Broker, message: MessageProxy, spec: TaskSpec) -> StageRun | None:
        """Start the stage from the record its message carries (``state.create_call``); None to read it instead.

        A submit queues a new stage's message with the stage's record at revision 1. One compare-and-set attempt
        at revision 1 that also needs the stage's latest message to be this one: both holding means the stored
        record is the carried one (nothing changed it, and no purge and re-submit under the same id made a new
        one), so the start is what a fresh read would have given, without the read. Only the plain path: the
        stage PENDING, its input its own (no references). Nothing is written before the set, so a None (any lost
        race, a message sent again, a record too large to carry) leaves no trace. The live-settings version
        comes with the fetch (``fetch.lua``).
        """
        carried = message.options.get(STAGE_OPTION)
        if not isinstance(carried, dict):
            return None
        try:
            stage = msgspec.convert(carried, StageRecord)
        except msgspec.ValidationError:
            return None
        if stage.status != Status.PENDING or superseded(stage, message.message_id) or find_references(stage.input_data):
            return None
        try:
            params = decode_run_input(spec, stage.input_data)
        except InputError:
            return None  # the full path fails the stage with the reason
        self.context.adopt_settings(getattr(broker, "config_version", None))
        wid, name = message.args[0]["workflow_id"], message.args[0]["task_name"]
        run = StageRun(self.context, spec, wid, name, params, message.message_id)
        note = f"{message.queue_name}\n{message.options['redis_message_id']}"
        try:
            self._start(run, stage, 1, attempts=1, message_note=note)
        except ConcurrentUpdate:
            return None
        return run

    @staticmethod
    def _start(
        run: StageRun, stage: StageRecord, rev: int, attempts: int = MAX_CAS_ATTEMPTS, message_note: str | None = None
    ) -> None:
        try:
            run.start(stage, rev, attempts, message_note)
        except IllegalTransition as exc:
            log.info("stage_not_started", reason=str(exc))
            skip()

    def _prepare_input(
        self, broker: dramatiq.Broker, message: MessageProxy, workflow: Workflow, stage: StageRecord, spec: TaskSpec
    ) -> msgspec.Struct:
        try:
            return decode_run_input(spec, resolve(stage.input_data, workflow.stages))
        except DependencyNotReady as exc:
            self._park(broker, message, workflow, stage, exc)
            skip()
        except (BrokenReference, InputError) as exc:
            self.endings.reject(workflow.meta.workflow_id, stage.task_name, exc)
            skip()

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
        settings = self.context.settings
        again = message.copy(options={"redis_message_id": str(uuid.uuid4())})
        lane, meta = "", workflow.meta
        client = meta.tenant or meta.key or "open"
        if settings.queueing.priorities and stage.priority and not ("\t" in client or "\n" in client):
            key = next((k for k in settings.auth.api_keys if k.name == meta.key), None)
            lane = f"{stage.priority}|{(key.weight if key else None) or 1}|{client}"
        entry = waiter_entry(
            message.queue_name,
            message.args[0]["task_name"],
            again.options["redis_message_id"],
            encode_message(again),
            lane,
        )
        if self.context.sync_store.park(meta.workflow_id, waiting.task_name, entry):
            log.info("stage_waiting_for_dependency", reason=str(waiting), awaited=waiting.task_name)
        else:  # it ended between our read and the park: run now
            broker.enqueue(message.copy())

    def _take_gpu(self, run: StageRun) -> None:
        """Take the stage's lease; a transient Redis error gives it back and is raised (the start is retried)."""
        assert run.task is not None  # noqa: S101  (the stage has started)
        context = self.context
        session = GpuSession(
            context.sync_redis,
            context.settings,
            run.task,
            host=context.host,
            pid=os.getpid(),
            spec=run.spec,
            params=run.params,
        )
        try:
            session.acquire()
        except TRANSIENT_ERRORS:
            session.release()
            raise
        except Exception as exc:  # noqa: BLE001  (any other failure to get a lease fails the stage with its message)
            session.release()
            self.endings.finish(run, Status.FAILED, exc)  # its script untracks the run when it is recorded
            run.untrack()  # else (the stage moved on): on its own
            skip()
        try:
            run.note_gpu(session)
        except TRANSIENT_ERRORS:
            run.gpu = None
            session.release()
            raise
