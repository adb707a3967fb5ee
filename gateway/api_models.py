"""Structs that describe the gateway's JSON answers, for the OpenAPI document (the tests hold them to it)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from actors.webhooks.events import CallbackStatus
from config.limits import KeyLimits
from gateway.audit import AuditEntry
from state import StageError

StatusName = Literal["SCHEDULED", "PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED"]


class StageRun(msgspec.Struct, kw_only=True):
    """One run of a stage: its attempt number, how it ended, its error."""

    attempt: int
    status: StatusName
    error: StageError | None
    started_at: str | None
    finished_at: str | None


class StageView(msgspec.Struct, kw_only=True):
    """One stage of a task: status, input, output or error, progress and timings."""

    status: StatusName
    input_data: dict[str, Any]
    output: dict[str, Any] | None
    error: StageError | None
    progress: float | None
    attempts: int
    gpu: dict[str, Any] | None
    events: list[dict[str, Any]]
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    duration_s: float | None
    callback_status: CallbackStatus | None = None
    # a SCHEDULED stage's start time (run_at / delay_s at submit); null for a stage queued at once
    run_at: str | None = None
    # the priority band the stage waited in (null: submitted before priorities, or a dependent stage)
    priority: Literal["high", "normal", "low"] | None = None
    # every run of the stage once a replay (POST /v1/tasks/retry) sent it back: earlier runs, then the current one
    history: list[StageRun] = msgspec.field(default_factory=list)


class TaskView(msgspec.Struct, kw_only=True):
    """A task (workflow) with every stage; its status is its latest stage's."""

    workflow_id: str
    task_id: str
    task_name: str
    status: StatusName
    input_params: dict[str, Any]
    shared_storage_path: str
    callback: str | None
    callback_status: CallbackStatus | None
    stages: dict[str, StageView]
    key: str | None = None  # the API key that created the task (null without keys)
    tenant: str | None = None
    labels: dict[str, str] | None = None
    error: StageError | None
    created_at: str | None
    updated_at: str | None
    # on a submit only: e.g. no live worker serves the task's queue (the task is queued all the same)
    warnings: list[str] | None = None
    # bytes under workflows/{task_id}/ when a stage last ended (null before any did)
    storage_bytes: int | None = None
    # when retention removed the workflow's files while its record stayed (storage.retention_s)
    files_removed_at: str | None = None


class TaskSummary(msgspec.Struct, kw_only=True):
    """A line of the task list."""

    task_id: str
    task_name: str
    status: StatusName
    created_at: str | None
    updated_at: str | None
    error: StageError | None
    # with ?task_name=: that stage's name and status (the row shows the latest stage)
    matched_stage: dict[str, str] | None = None
    progress: float | None = None
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    key: str | None = None
    tenant: str | None = None
    labels: dict[str, str] | None = None


class TaskList(msgspec.Struct, kw_only=True):
    """Recent tasks, newest first; ``next_cursor`` goes on after the last one (null: no more)."""

    tasks: list[TaskSummary]
    next_cursor: str | None = None


class BulkResult(msgspec.Struct, kw_only=True):
    """What a bulk retry or cancel did (or, with ``dry_run``, would do)."""

    action: Literal["retry", "cancel"]
    dry_run: bool
    matched: int  # tasks the filter selected
    count: int  # of those, the ones the action applies to (dry run) or was applied to
    skipped: int  # matched but left as they were (e.g. a retry of a task that did not fail)
    sample: list[str]  # up to 20 task ids the action applies to
    pages: int
    elapsed_s: float


class TaskResult(msgspec.Struct, kw_only=True):
    """The latest stage's outcome once it has ended."""

    task_id: str
    task_name: str
    status: StatusName
    output: dict[str, Any] | None
    error: StageError | None


class TaskType(msgspec.Struct, kw_only=True):
    """One registered task: its input schema, output fields, queue, GPU use, live workers and engine state."""

    task_name: str
    description: str
    queue: str
    uses_gpu: bool
    gpu_memory_mb: int  # MiB a run asks the GPU lease for (registry default or gpu_lock.task_memory_mb)
    input_schema: dict[str, Any]
    output_fields: list[str]
    output_schema: dict[str, Any]
    worker_alive: bool
    # null while no worker is alive; false when a live worker reports its engine unconfigured (engine_problem)
    engine_ready: bool | None
    engine_problem: str | None


class TaskTypes(msgspec.Struct, kw_only=True):
    """The task catalogue."""

    task_types: list[TaskType]


class FileInfo(msgspec.Struct, kw_only=True):
    """A file in the storage root."""

    path: str
    size_bytes: int
    modified_at: str | None


class FileList(msgspec.Struct, kw_only=True):
    """Files under a prefix; ``truncated`` when there were more than ``limit``."""

    files: list[FileInfo]
    truncated: bool


class Uploaded(msgspec.Struct, kw_only=True):
    """A stored upload: where it is, its size and SHA-256."""

    path: str
    size_bytes: int
    sha256: str


class Health(msgspec.Struct, kw_only=True):
    """Liveness answer."""

    status: Literal["ok"]


class Ready(msgspec.Struct, kw_only=True):
    """Readiness answer."""

    status: Literal["ready"]
    redis: Literal["ok"]


class AuditList(msgspec.Struct, kw_only=True):
    """One page of the audit log, newest first; ``next_cursor`` goes on from its last entry (null: no more)."""

    entries: list[AuditEntry]
    next_cursor: str | None


class WhoAmI(msgspec.Struct, kw_only=True):
    """The caller as the gateway sees it (``open`` when no key is configured)."""

    name: str
    scopes: list[str]
    admin: bool
    user: bool
    auth_enabled: bool


class KeyCounts(msgspec.Struct, kw_only=True):
    """A key's queued (SCHEDULED, PENDING) and running stages, overall and per task_name (only those with any)."""

    queued: int
    running: int
    per_task: dict[str, dict[str, int]]


class KeyView(msgspec.Struct, kw_only=True):
    """An API key (its name, never its secret), its limits and where they come from, and its counts."""

    name: str
    scopes: list[str]
    limits: KeyLimits | None
    # "runtime" (PUT /v1/keys/{name}/limits), "settings" (auth.api_keys), or null: no limits
    limits_source: Literal["runtime", "settings"] | None
    counts: KeyCounts


class KeyList(msgspec.Struct, kw_only=True):
    """Every configured API key."""

    keys: list[KeyView]


class PauseMark(msgspec.Struct, kw_only=True):
    """When and by which key a queue was paused or a host drained."""

    at: str | None
    by: str


class QueueState(msgspec.Struct, kw_only=True):
    """A queue: paused or not, and what waits in it by priority (``put_back``: messages put back or retried)."""

    queue: str
    paused: bool
    paused_since: PauseMark | None
    queued: int
    queued_by_priority: dict[str, int]
    # priority -> client (tenant, else key name) -> queued messages
    queued_by_client: dict[str, dict[str, int]] | None = None


class HostState(msgspec.Struct, kw_only=True):
    """A worker host: drained (takes nothing new) or not."""

    host: str
    drained: bool
    drained_since: PauseMark | None


class QueueList(msgspec.Struct, kw_only=True):
    """Every queue, and the drained worker hosts."""

    queues: list[QueueState]
    drained_hosts: list[HostState]
