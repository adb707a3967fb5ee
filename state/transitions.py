"""The table of legal stage status transitions."""

from __future__ import annotations

from enum import StrEnum

from state.errors import IllegalTransition


class Status(StrEnum):
    """Lifecycle of a stage (and of a workflow, which follows its latest stage)."""

    SCHEDULED = "SCHEDULED"  # waits for its run_at; then PENDING (state/schedule.py)
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


TERMINAL = frozenset({Status.SUCCESS, Status.FAILED, Status.CANCELLED})

# RUNNING -> RUNNING: a message redelivered after a worker crash re-runs the stage.
# RUNNING -> PENDING: a transient failure waits for its retry.
# SCHEDULED -> PENDING: its run_at came (the scheduler queues its message in the same step).
LEGAL: dict[Status, frozenset[Status]] = {
    Status.SCHEDULED: frozenset({Status.PENDING, Status.CANCELLED, Status.FAILED}),
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


# Statuses that count as queued for the limits per key (a scheduled stage is waiting too).
QUEUED = frozenset({Status.SCHEDULED, Status.PENDING})


def is_terminal(status: str) -> bool:
    """Return whether ``status`` ends a stage."""
    return status in TERMINAL
