"""msgspec Structs for the task request, stage records and the workflow context."""

from __future__ import annotations

import functools
import hashlib
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec

TASK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z"
TaskId = Annotated[str, msgspec.Meta(pattern=TASK_ID_PATTERN, description="Letters, digits, '.', '_', '-'")]
TaskName = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
RunAt = Annotated[
    str | int,
    msgspec.Meta(description="When the stage may start: ISO 8601 with a zone, or epoch milliseconds"),
]
DelaySeconds = Annotated[float, msgspec.Meta(ge=0, description="Seconds from now before the stage may start")]
TenantName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")]
CallbackUrl = Annotated[str, msgspec.Meta(min_length=8, max_length=2048, pattern=r"^https?://")]
# Labels and tenants name index keys: no ':' or '=' in a label name, nothing a key cannot hold.
LABEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}\Z"
Tenant = TenantName  # one spelling for the submit (fairness) and the search filter
LabelName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=LABEL_NAME_PATTERN)]
LabelValue = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+\Z")]
Labels = Annotated[dict[LabelName, LabelValue], msgspec.Meta(max_length=16)]


class TaskRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The body of ``POST /v1/tasks``."""

    task_name: TaskName
    input_data: dict[str, Any] = msgspec.field(default_factory=dict)
    task_id: TaskId | None = None
    callback: CallbackUrl | None = None
    # later start: an ISO 8601 time with a zone, or epoch milliseconds; or a delay from now (not both)
    run_at: RunAt | None = None
    delay_s: DelaySeconds | None = None
    # "high" | "normal" | "low" (checked by the gateway, which lists them); unset: the key's, the task type's
    priority: Annotated[str, msgspec.Meta(description="high, normal or low")] | None = None
    # the client this submit counts as for fairness and search; admin keys only
    tenant: TenantName | None = None
    # free labels, set when the workflow is created, searchable with ``label=name:value``
    labels: Labels | None = None


class StageError(msgspec.Struct, kw_only=True):
    """Why a stage failed: an exception type and a message for humans (no traceback)."""

    type: str
    message: str


class StageAttempt(msgspec.Struct, kw_only=True):
    """An earlier run of a stage, kept when a replay (bulk retry) sent the stage back to PENDING."""

    attempt: int
    status: str
    error: StageError | None = None
    started_at_ms: int | None = None
    finished_at_ms: int | None = None


class StageRecord(msgspec.Struct, kw_only=True):
    """One stage of a workflow as stored in Redis (times are integer milliseconds)."""

    task_name: str
    status: str
    input_data: dict[str, Any]
    input_hash: str
    created_at_ms: int
    output: dict[str, Any] | None = None
    error: StageError | None = None
    started_at_ms: int | None = None
    finished_at_ms: int | None = None
    updated_at_ms: int | None = None
    attempts: int = 0
    gpu: dict[str, Any] | None = None
    events: list[dict[str, Any]] = msgspec.field(default_factory=list)
    # when a SCHEDULED stage may start (ms); None for a stage queued at once
    run_at_ms: int | None = None
    # the API key name that submitted the stage (its limits count it); None when keys are off
    key: str | None = None
    priority: str | None = None
    history: list[StageAttempt] = msgspec.field(default_factory=list)


class WorkflowMeta(msgspec.Struct, kw_only=True):
    """Workflow-wide fields written once, when the first stage is created."""

    workflow_id: str
    created_at_ms: int
    input_params: dict[str, Any]
    shared_storage_path: str
    callback: str | None = None
    key: str | None = None  # the API key name that created the workflow (None when keys are off)
    tenant: str | None = None
    labels: dict[str, str] | None = None


class Workflow(msgspec.Struct, kw_only=True):
    """A workflow read back from Redis: its meta, stages in creation order, live progress."""

    meta: WorkflowMeta
    stages: dict[str, StageRecord]
    progress: dict[str, float]
    cancel_requested: frozenset[str]
    latest: str
    callbacks: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    revisions: dict[str, int] = msgspec.field(default_factory=dict)
    # bytes under workflows/{id}/ when a stage last ended; when retention removed them (ms)
    storage_bytes: int | None = None
    files_removed_ms: int | None = None

    @property
    def latest_stage(self) -> StageRecord:
        """Return the most recently created stage, which the workflow's status follows."""
        return self.stages[self.latest]


def now_ms() -> int:
    """Return the wall-clock time in integer milliseconds."""
    return time.time_ns() // 1_000_000


def iso_ms(value_ms: int | None) -> str | None:
    """Render milliseconds since the epoch as an ISO-8601 UTC string (``2026-11-29T10:00:00.123Z``)."""
    if value_ms is None:
        return None
    seconds, millis = divmod(value_ms, 1000)
    return f"{_iso_second(seconds)}.{millis:03d}Z"


@functools.lru_cache(maxsize=4096)
def _iso_second(seconds: int) -> str:
    """Return the date and time of an epoch second; every view renders several times of recent seconds."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


_encoder = msgspec.json.Encoder(order="sorted")


def input_hash(task_name: str, input_data: dict[str, Any]) -> str:
    """Return a stable digest of a stage's task_name and input, for idempotent submits."""
    return hashlib.sha256(_encoder.encode([task_name, input_data])).hexdigest()


def stage_view(stage: StageRecord, progress: float | None) -> dict[str, Any]:
    """Render a stage for clients."""
    duration = None
    if stage.started_at_ms is not None and stage.finished_at_ms is not None:
        duration = round((stage.finished_at_ms - stage.started_at_ms) / 1000, 3)
    return {
        "status": stage.status,
        "input_data": stage.input_data,
        "output": stage.output,
        "error": msgspec.to_builtins(stage.error) if stage.error else None,
        "progress": 1.0 if stage.status == "SUCCESS" else progress,
        "attempts": stage.attempts,
        "gpu": stage.gpu,
        "events": stage.events,
        "created_at": iso_ms(stage.created_at_ms),
        "started_at": iso_ms(stage.started_at_ms),
        "finished_at": iso_ms(stage.finished_at_ms),
        "duration_s": duration,
        "run_at": iso_ms(stage.run_at_ms),
        "priority": stage.priority,
        "history": history_view(stage),
    }


def history_view(stage: StageRecord) -> list[dict[str, Any]]:
    """Render every run of a stage: the earlier ones a replay ended, then the current one once it started."""
    runs = [_attempt_view(a) for a in stage.history]
    if stage.history and stage.started_at_ms is not None:
        current = StageAttempt(
            attempt=stage.attempts,
            status=stage.status,
            error=stage.error,
            started_at_ms=stage.started_at_ms,
            finished_at_ms=stage.finished_at_ms,
        )
        runs.append(_attempt_view(current))
    return runs


def _attempt_view(attempt: StageAttempt) -> dict[str, Any]:
    return {
        "attempt": attempt.attempt,
        "status": attempt.status,
        "error": msgspec.to_builtins(attempt.error) if attempt.error else None,
        "started_at": iso_ms(attempt.started_at_ms),
        "finished_at": iso_ms(attempt.finished_at_ms),
    }


def _progress(wf: Workflow, name: str) -> float | None:
    """Return a stage's progress; a pipeline's own stage weighs the progress of the stages it expanded to."""
    stage = wf.stages[name]
    weights = stage.input_data.get("weights") if name.startswith("pipeline.") else None
    if not isinstance(weights, dict) or not weights or stage.status != "PENDING":
        return wf.progress.get(name)
    done = 0.0
    for inner, weight in weights.items():
        found = wf.stages.get(inner)
        if found is not None and found.status == "SUCCESS":
            done += float(weight)
        elif found is not None:
            done += float(weight) * (wf.progress.get(inner) or 0.0)
    return round(done / sum(float(w) for w in weights.values()), 4)


def workflow_view(wf: Workflow) -> dict[str, Any]:
    """Render the workflow context the way ``GET /v1/tasks/{task_id}`` shows it."""
    latest = wf.latest_stage
    updated = max((s.updated_at_ms or s.created_at_ms) for s in wf.stages.values())
    return {
        "workflow_id": wf.meta.workflow_id,
        "task_id": wf.meta.workflow_id,
        "task_name": latest.task_name,
        "status": latest.status,
        "input_params": wf.meta.input_params,
        "shared_storage_path": wf.meta.shared_storage_path,
        "callback": wf.meta.callback,
        "key": wf.meta.key,
        "tenant": wf.meta.tenant,
        "labels": wf.meta.labels,
        "callback_status": wf.callbacks.get(wf.latest),
        "stages": {
            name: {**stage_view(s, _progress(wf, name)), "callback_status": wf.callbacks.get(name)}
            for name, s in wf.stages.items()
        },
        "error": msgspec.to_builtins(latest.error) if latest.error else None,
        "created_at": iso_ms(wf.meta.created_at_ms),
        "updated_at": iso_ms(updated),
        "storage_bytes": wf.storage_bytes,
        "files_removed_at": iso_ms(wf.files_removed_ms),
    }
