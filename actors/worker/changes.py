"""The stage changes the lifecycle makes, as functions from the current record to the new one (no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from state import StageError, StageRecord, Status, now_ms

Change = Callable[[StageRecord], StageRecord]


def start(stage: StageRecord) -> StageRecord:
    """Move a stage to RUNNING as a new attempt."""
    stage.status = Status.RUNNING
    stage.attempts += 1
    stage.started_at_ms = now_ms()
    stage.error = None
    return stage


def with_gpu(record: dict[str, Any]) -> Change:
    """Return the change that records the stage's GPU lease."""

    def change(stage: StageRecord) -> StageRecord:
        stage.gpu = record
        return stage

    return change


def succeeded(output: dict[str, Any] | None, gpu_record: dict[str, Any] | None) -> Change:
    """Return the change that ends a stage SUCCESS with ``output``."""

    def change(stage: StageRecord) -> StageRecord:
        stage.status = Status.SUCCESS
        stage.output = output
        stage.error = None
        stage.finished_at_ms = now_ms()
        if gpu_record:
            stage.gpu = gpu_record
        return stage

    return change


def ended(status: Status, error: StageError, gpu_record: dict[str, Any] | None) -> Change:
    """Return the change that ends a stage FAILED or CANCELLED with ``error``."""

    def change(stage: StageRecord) -> StageRecord:
        stage.status = status
        stage.error = error
        stage.finished_at_ms = now_ms()
        if gpu_record:
            stage.gpu = gpu_record
        return stage

    return change


def back_to_pending(error: BaseException) -> Change:
    """Return the change that sends a stage back to PENDING for a retry, noting why."""

    def change(stage: StageRecord) -> StageRecord:
        stage.status = Status.PENDING
        stage.events.append({"type": "retry", "at_ms": now_ms(), "error": error_of(error).message})
        return stage

    return change


def error_of(error: BaseException) -> StageError:
    """Return the stage record's error for an exception."""
    return StageError(type=type(error).__name__, message=str(error) or type(error).__name__)
