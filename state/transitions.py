"""The table of legal stage status transitions."""

from __future__ import annotations

from enum import StrEnum

from state.errors import IllegalTransition


class Status(StrEnum):
    """Lifecycle of a stage (and of a workflow, which follows its latest stage)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


TERMINAL = frozenset({Status.SUCCESS, Status.FAILED, Status.CANCELLED})

# RUNNING -> RUNNING: a message redelivered after a worker crash re-runs the stage.
# RUNNING -> PENDING: a transient failure waits for its retry.
LEGAL: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.RUNNING, Status.CANCELLED, Status.FAILED}),
    Status.RUNNING: frozenset({Status.RUNNING, Status.PENDING, Status.SUCCESS, Status.FAILED, Status.CANCELLED}),
    Status.SUCCESS: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
}


def check_transition(old: str, new: str) -> None:
    """Check that a stage may move from ``old`` to ``new``.

    Raises:
        IllegalTransition: the move is not in ``LEGAL``.
    """
    if Status(new) not in LEGAL[Status(old)]:
        raise IllegalTransition(old, new)


def is_terminal(status: str) -> bool:
    """Return whether ``status`` ends a stage."""
    return status in TERMINAL
