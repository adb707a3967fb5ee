"""Every stage change, by name: the only code that writes a stage's status and its companions.

Each change states its precondition (the statuses it applies to, and for a run's own changes the attempt
that must still own the stage) and raises ``PreconditionFailed`` when it does not hold; otherwise it takes
the current record (a copy, inside the stores' compare-and-set) and returns the new one. The stores check
the move against ``state.transitions.LEGAL`` and commit it atomically, with everything the move entails
(``state.side_effects``). The lifecycle, the monitor, the scheduler and the stores call these instead of
setting ``status``, ``finished_at_ms`` and friends by hand, and guard nothing themselves.

| change         | applies to                      | moves to            |
|----------------|---------------------------------|---------------------|
| release        | SCHEDULED                       | PENDING             |
| start          | PENDING, RUNNING (redelivered)  | RUNNING             |
| note_gpu       | RUNNING [attempt]               | RUNNING             |
| note_event     | RUNNING                         | RUNNING             |
| succeed        | RUNNING (any attempt: fenced)   | SUCCESS             |
| end / fail     | RUNNING [attempt]               | FAILED / CANCELLED  |
| lease_lost     | RUNNING                         | FAILED              |
| reject         | SCHEDULED, PENDING, RUNNING     | FAILED              |
| cancel_pending | SCHEDULED, PENDING              | CANCELLED           |
| retry          | RUNNING [attempt]               | PENDING             |
| requeue        | RUNNING, never re-queued        | PENDING             |
| redeliver      | PENDING                         | PENDING             |
| replay         | FAILED, CANCELLED               | PENDING             |
"""

from __future__ import annotations

from typing import Any

from state.errors import PreconditionFailed
from state.models import StageAttempt, StageError, StageRecord, now_ms
from state.transitions import QUEUED, Status

# The stage event the monitor adds when it re-queues a dead worker's stage under a new message.
REQUEUED_EVENT = "requeued"
# The stage event the monitor adds when it sends a PENDING stage whose message is in no queue again.
REDELIVERED_EVENT = "redelivered"
RETRY_EVENT = "retry"
# The stage event a replay (POST /v1/tasks/retry) adds: the stage runs again under this message.
REPLAYED_EVENT = "replayed"
# What a replay may send back to PENDING: only a stage that ended without success.
REPLAYABLE = frozenset({Status.FAILED, Status.CANCELLED})
RUNNING = frozenset({Status.RUNNING})
STARTABLE = frozenset({Status.PENDING, Status.RUNNING})  # RUNNING: a message redelivered after a crash re-runs it
NOT_ENDED = frozenset({Status.SCHEDULED, Status.PENDING, Status.RUNNING})


def require(change: str, stage: StageRecord, expected: frozenset[Status], *, attempt: int | None = None) -> None:
    """Check a change's precondition: ``stage`` is in one of ``expected`` (and still on ``attempt`` when given).

    Raises:
        PreconditionFailed: it is not.
    """
    if stage.status not in expected:
        raise PreconditionFailed(change, stage, expected, attempt=attempt)
    if attempt is not None and stage.attempts != attempt:
        why = f"attempt {attempt} no longer owns it (now attempt {stage.attempts}): its change is dropped"
        raise PreconditionFailed(change, stage, expected, attempt=attempt, why=why)


def release(stage: StageRecord) -> StageRecord:
    """Move a SCHEDULED stage whose run_at has come to PENDING (its message is queued in the same step)."""
    require("release", stage, frozenset({Status.SCHEDULED}))
    stage.status = Status.PENDING
    return stage


def start(stage: StageRecord) -> StageRecord:
    """Mark a stage RUNNING for one more attempt (a redelivered message re-runs it into the same record)."""
    require("start", stage, STARTABLE)
    stage.status = Status.RUNNING
    stage.attempts += 1
    stage.started_at_ms = now_ms()
    stage.error = None
    return stage


def note_gpu(stage: StageRecord, gpu: dict[str, Any], attempt: int | None = None) -> StageRecord:
    """Record the GPU lease a running stage holds (``attempt``: only while that run owns it)."""
    require("note_gpu", stage, RUNNING, attempt=attempt)
    stage.gpu = gpu
    return stage


def note_event(stage: StageRecord, event: dict[str, Any]) -> StageRecord:
    """Add an event (a timeout tier's entry) to a running stage's record."""
    require("note_event", stage, RUNNING)
    stage.events.append(event)
    return stage


def succeed(
    stage: StageRecord, output: dict[str, Any] | None, gpu: dict[str, Any] | None = None, at_ms: int | None = None
) -> StageRecord:
    """End a stage SUCCESS with its output (and the lease it held, released); ``at_ms``: when its work ended.

    Any attempt's result counts while the stage runs: a GPU result's commit is fenced on its lease instead.
    """
    require("succeed", stage, RUNNING)
    stage.status = Status.SUCCESS
    stage.output = output
    stage.error = None
    stage.finished_at_ms = at_ms or now_ms()
    if gpu:
        stage.gpu = gpu
    return stage


def end(
    stage: StageRecord,
    status: Status,
    error: StageError,
    gpu: dict[str, Any] | None = None,
    at_ms: int | None = None,
    *,
    attempt: int | None = None,
) -> StageRecord:
    """End a running stage FAILED or CANCELLED with the error that ended it; ``at_ms``: when its work ended.

    ``attempt``: only while that run owns the stage (one the monitor re-queued meanwhile is not ended).
    """
    require(f"end as {status}", stage, RUNNING, attempt=attempt)
    return _ended(stage, status, error, gpu, at_ms)


def _ended(
    stage: StageRecord, status: Status, error: StageError, gpu: dict[str, Any] | None, at_ms: int | None
) -> StageRecord:
    stage.status = status
    stage.error = error
    stage.finished_at_ms = at_ms or now_ms()
    if gpu:
        stage.gpu = gpu
    return stage


def fail(
    stage: StageRecord, error: StageError, gpu: dict[str, Any] | None = None, attempt: int | None = None
) -> StageRecord:
    """End a running stage FAILED."""
    return end(stage, Status.FAILED, error, gpu, attempt=attempt)


def reject(stage: StageRecord, error: StageError) -> StageRecord:
    """End a stage that has not ended FAILED because its input cannot run (a broken reference, invalid input)."""
    require("reject", stage, NOT_ENDED)
    return _ended(stage, Status.FAILED, error, None, None)


def lease_lost(stage: StageRecord, error: StageError, gpu: dict[str, Any]) -> StageRecord:
    """End a running stage FAILED because its GPU lease ended before its result could be committed (fenced out)."""
    return end(stage, Status.FAILED, error, {**gpu, "lease_lost": True})


def cancel_pending(stage: StageRecord) -> StageRecord:
    """End a stage that has not started CANCELLED (a running one is asked to stop instead)."""
    require("cancel_pending", stage, QUEUED)
    stage.status = Status.CANCELLED
    stage.finished_at_ms = now_ms()
    stage.error = None
    return stage


def retry(stage: StageRecord, error_message: str, attempt: int | None = None) -> StageRecord:
    """Send a running stage back to PENDING to wait for its retry, noting why (``attempt``: its run's)."""
    require("retry", stage, RUNNING, attempt=attempt)
    stage.status = Status.PENDING
    stage.events.append({"type": RETRY_EVENT, "at_ms": now_ms(), "error": error_message})
    return stage


def requeue(stage: StageRecord, reason: str, message_id: str) -> StageRecord:
    """Send a stage whose worker died back to PENDING, under the message that will run it again (once)."""
    require("requeue", stage, RUNNING)
    if was_requeued(stage):
        raise PreconditionFailed("requeue", stage, RUNNING, why="it was re-queued once already")
    stage.status = Status.PENDING
    stage.events.append({"type": REQUEUED_EVENT, "at_ms": now_ms(), "message_id": message_id, "reason": reason})
    return stage


def redeliver(stage: StageRecord, message_id: str) -> StageRecord:
    """Note the new message a PENDING stage was sent again under (its earlier messages are then skipped)."""
    require("redeliver", stage, frozenset({Status.PENDING}))
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
        PreconditionFailed: the stage did not end FAILED or CANCELLED.
    """
    require("replay", stage, REPLAYABLE)
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
