"""Workflow state in Redis: models, legal transitions, references, path rules and the store."""

from state.create_call import Placement, QueuedMessage
from state.errors import (
    BrokenReference,
    ConcurrentUpdate,
    DependencyNotReady,
    IllegalTransition,
    LeaseNotHeld,
    LimitExceeded,
    PathOutsideRoot,
    PreconditionFailed,
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
    "BrokenReference",
    "ConcurrentUpdate",
    "CreateOutcome",
    "DependencyNotReady",
    "Fence",
    "IllegalTransition",
    "LeaseNotHeld",
    "LimitExceeded",
    "PathOutsideRoot",
    "Placement",
    "PreconditionFailed",
    "QueuedMessage",
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
