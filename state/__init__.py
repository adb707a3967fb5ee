"""Workflow state in Redis: models, legal transitions, references, path rules and the store."""

from state.errors import (
    ConcurrentUpdate,
    DependencyNotReady,
    IllegalTransition,
    LeaseNotHeld,
    PathOutsideRoot,
    ReferenceError_,
    StageFinished,
    StageNotTerminal,
    StateError,
    TaskConflict,
    TaskNotFound,
)
from state.models import StageError, StageRecord, TaskRequest, Workflow, WorkflowMeta, now_ms, workflow_view
from state.store import CreateOutcome, Fence, StateStore
from state.transitions import TERMINAL, Status, check_transition, is_terminal

__all__ = [
    "TERMINAL",
    "ConcurrentUpdate",
    "CreateOutcome",
    "DependencyNotReady",
    "Fence",
    "IllegalTransition",
    "LeaseNotHeld",
    "PathOutsideRoot",
    "ReferenceError_",
    "StageError",
    "StageFinished",
    "StageNotTerminal",
    "StageRecord",
    "StateError",
    "StateStore",
    "Status",
    "TaskConflict",
    "TaskNotFound",
    "TaskRequest",
    "Workflow",
    "WorkflowMeta",
    "check_transition",
    "is_terminal",
    "now_ms",
    "workflow_view",
]
