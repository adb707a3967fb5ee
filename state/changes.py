"""Every stage change, by name: the only code that writes a stage's status and its companions.

Each change takes the current record (a copy, inside the stores' compare-and-set) and returns the new one;
the stores check the move against ``state.transitions.LEGAL`` and commit it atomically. The lifecycle, the
monitor and the stores call these instead of setting ``status``, ``finished_at_ms`` and friends by hand.
"""

from __future__ import annotations

from typing import Any

from state.models import StageAttempt, StageError, StageRecord, now_ms
from state.transitions import Status

# The stage event the monitor adds when it re-queues a dead worker's stage under a new message.
REQUEUED_EVENT = "requeued"
# The stage event the monitor adds when it sends a PENDING stage whose message is in no queue again.
REDELIVERED_EVENT = "redelivered"
RETRY_EVENT = "retry"
# The stage event a replay (POST /v1/tasks/retry) adds: the stage runs again under this message.
REPLAYED_EVENT = "replayed"
# What a replay may send back to PENDING: only a stage that ended without success.
REPLAYABLE = frozenset({Status.FAILED, Status.CANCELLED})


def release(stage: StageRecord) -> StageRecord:
    """Move a SCHEDULED stage whose run_at has come to PENDING (its message is queued in the same step)."""
    stage.status = Status.PENDING
    return stage


def start(stage: StageRecord) -> StageRecord:
    """Mark a stage RUNNING for one more attempt (a redelivered message re-runs it into the same record)."""
    stage.status = Status.RUNNING
    stage.attempts += 1
    stage.started_at_ms = now_ms()
    stage.error = None
    return stage


def note_gpu(stage: StageRecord, gpu: dict[str, Any]) -> StageRecord:
    """Record the GPU lease a running stage holds."""
    stage.gpu = gpu
    return stage


def succeed(
    stage: StageRecord, output: dict[str, Any] | None, gpu: dict[str, Any] | None = None, at_ms: int | None = None
) -> StageRecord:
    """End a stage SUCCESS with its output (and the lease it held, released); ``at_ms``: when its work ended."""
    stage.status = Status.SUCCESS
    stage.output = output
    stage.error = None
    stage.finished_at_ms = at_ms or now_ms()
    if gpu:
        stage.gpu = gpu
    return stage


def end(
    stage: StageRecord, status: Status, error: StageError, gpu: dict[str, Any] | None = None, at_ms: int | None = None
) -> StageRecord:
    """End a stage FAILED or CANCELLED with the error that ended it; ``at_ms``: when its work ended (else now)."""
    stage.status = status
    stage.error = error
    stage.finished_at_ms = at_ms or now_ms()
    if gpu:
        stage.gpu = gpu
    return stage


def fail(stage: StageRecord, error: StageError, gpu: dict[str, Any] | None = None) -> StageRecord:
    """End a stage FAILED."""
    return end(stage, Status.FAILED, error, gpu)


def lease_lost(stage: StageRecord, error: StageError, gpu: dict[str, Any]) -> StageRecord:
    """End a stage FAILED because its GPU lease ended before its result could be committed (fenced out)."""
    return end(stage, Status.FAILED, error, {**gpu, "lease_lost": True})


def cancel_pending(stage: StageRecord) -> StageRecord:
    """End a stage that has not started CANCELLED (a running one is asked to stop instead)."""
    stage.status = Status.CANCELLED
    stage.finished_at_ms = now_ms()
    stage.error = None
    return stage


def retry(stage: StageRecord, error_message: str) -> StageRecord:
    """Send a running stage back to PENDING to wait for its retry, noting why."""
    stage.status = Status.PENDING
    stage.events.append({"type": RETRY_EVENT, "at_ms": now_ms(), "error": error_message})
    return stage


def requeue(stage: StageRecord, reason: str, message_id: str) -> StageRecord:
    """Send a stage whose worker died back to PENDING, under the message that will run it again."""
    stage.status = Status.PENDING
    stage.events.append({"type": REQUEUED_EVENT, "at_ms": now_ms(), "message_id": message_id, "reason": reason})
    return stage


def redeliver(stage: StageRecord, message_id: str) -> StageRecord:
    """Note the new message a PENDING stage was sent again under (its earlier messages are then skipped)."""
    stage.events.append({"type": REDELIVERED_EVENT, "at_ms": now_ms(), "message_id": message_id})
    return stage


def was_requeued(stage: StageRecord) -> bool:
    """Return whether the monitor has already re-queued this stage once."""
    return any(e.get("type") == REQUEUED_EVENT for e in stage.events)


def replay(stage: StageRecord, message_id: str) -> StageRecord:
    """Send a FAILED or CANCELLED stage back to PENDING under a new message, keeping its run in ``history``.

    The one move out of a terminal status, made only by an operator's replay (``state/replay.py``): the
    attempts count goes on, the run that ended (its attempt, status, error, times) stays in the record.

    Raises:
        ValueError: the stage did not end FAILED or CANCELLED.
    """
    if stage.status not in REPLAYABLE:
        raise ValueError(f"only a FAILED or CANCELLED stage is replayed, not a {stage.status} one")
    ended = StageAttempt(
        attempt=stage.attempts,
        status=stage.status,
        error=stage.error,
        started_at_ms=stage.started_at_ms,
        finished_at_ms=stage.finished_at_ms,
    )
    stage.history = [*stage.history, ended]
    stage.status = Status.PENDING
    stage.error = None
    stage.output = None
    stage.started_at_ms = None
    stage.finished_at_ms = None
    stage.gpu = None
    stage.updated_at_ms = now_ms()
    stage.events.append({"type": REPLAYED_EVENT, "at_ms": now_ms(), "message_id": message_id})
    return stage
