"""How a run ends its stage: commit the output (fenced on its lease), retry, or record why it failed.

``Endings`` takes the worker's context (``actors.worker.context``) and writes a stage's end through the run
(``StageRun.change``), always with the named changes of ``state.changes``, whose preconditions keep a run
from ending a stage that moved on without it.
"""

from __future__ import annotations

import functools
import random
from pathlib import Path

import dramatiq
import structlog
from dramatiq.broker import MessageProxy

from actors.errors import TaskCancelled, TransientError
from actors.worker.context import WorkerContext
from actors.worker.stage_run import StageRun
from redis_io.retry import ride_out
from state import IllegalTransition, LeaseNotHeld, StageError, Status, changes
from state.storage import public_message

log = structlog.get_logger(__name__)


class Endings:
    """The writes of a stage's end, for the lifecycle's hooks."""

    def __init__(self, context: WorkerContext) -> None:
        self.context = context

    def end(self, broker: dramatiq.Broker, message: MessageProxy, run: StageRun, error: BaseException | None) -> None:
        """End the run's stage as ``error`` says: SUCCESS (None), CANCELLED, a retry, or FAILED."""
        if error is None:
            self.commit_success(run)
        elif isinstance(error, TaskCancelled):
            self.finish(run, Status.CANCELLED, error)
        elif (
            isinstance(error, TransientError)
            and run.attempt <= self.context.settings.retry_policy(run.task_name).max_retries
        ):
            self.retry(broker, message, run, error)
        else:
            self.finish(run, Status.FAILED, error)

    def commit_success(self, run: StageRun) -> None:
        """Commit the output, fenced on the run's GPU lease; a lost lease fails the stage instead."""
        fence = run.gpu.fence() if run.gpu else None
        gpu_record = run.gpu.record(released=True) if run.gpu else None
        succeed = functools.partial(changes.succeed, output=run.output, gpu=gpu_record, at_ms=run.ended_ms)
        try:
            run.change(succeed, fence, owned=False)
        except LeaseNotHeld as exc:
            log.error("stage_result_discarded", reason=str(exc))  # noqa: TRY400  (an expected condition)
            self.finish(run, Status.FAILED, exc, at_work_end=False)
            return
        except IllegalTransition as exc:
            log.warning("stage_result_discarded", reason=str(exc))
            return
        log.info("stage_succeeded")

    def retry(self, broker: dramatiq.Broker, message: MessageProxy, run: StageRun, error: BaseException) -> None:
        """Send the stage back to PENDING and its message to the delay queue, with backoff and jitter."""
        policy = self.context.settings.retry_policy(run.task_name)
        delay_s = min(policy.max_backoff_s, policy.min_backoff_s * 2 ** (run.attempt - 1))
        delay_ms = int(delay_s * 1000 * random.uniform(0.8, 1.2))

        reason = _error_of(error, self.context.settings.share_root).message
        try:
            run.change(functools.partial(changes.retry, error_message=reason))
        except IllegalTransition:
            return
        log.warning("stage_retrying", error=str(error), delay_ms=delay_ms, attempt=run.attempt)
        ride_out(lambda: broker.enqueue(message.copy(), delay=delay_ms), what="stage_retry_enqueue")

    def finish(self, run: StageRun, status: Status, error: BaseException, *, at_work_end: bool = True) -> None:
        """End the run's stage FAILED or CANCELLED with ``error`` (while this run still owns it).

        ``at_work_end``: the stage finished when the body returned (else now: a commit refused later).
        """
        record = _error_of(error, self.context.settings.share_root)
        gpu_record = run.gpu.record(released=True) if run.gpu else None
        at_ms = run.ended_ms if at_work_end else None
        try:
            run.change(functools.partial(changes.end, status=status, error=record, gpu=gpu_record, at_ms=at_ms))
        except IllegalTransition as exc:
            log.warning("stage_end_not_recorded", reason=str(exc), status=status)
            return
        event = "stage_cancelled" if status == Status.CANCELLED else "stage_failed"
        log.warning(event, error_type=record.type, error=record.message)

    def reject(self, workflow_id: str, task_name: str, error: BaseException) -> None:
        """Fail a stage whose input cannot run (before any run of this message started it)."""
        record = _error_of(error, self.context.settings.share_root)
        try:
            self.context.sync_store.update_stage_at(
                workflow_id,
                task_name,
                functools.partial(changes.reject, error=record),
            )
        except IllegalTransition as exc:
            log.warning("stage_end_not_recorded", reason=str(exc), status=Status.FAILED)
            return
        log.warning("stage_failed", error_type=record.type, error=record.message)


def _error_of(error: BaseException, root: Path) -> StageError:
    """Return the error as clients see it: no server paths outside the storage root's view, no errno numbers."""
    return StageError(type=type(error).__name__, message=public_message(str(error) or type(error).__name__, root))
