"""The state package's errors."""

from __future__ import annotations

from state.models import StageRecord


class StateError(Exception):
    """Base of every error raised by the state package."""


class TaskNotFound(StateError):
    """Raised when no workflow or stage exists under the given id."""


class TaskConflict(StateError):
    """Raised when a task id is reused for the same task_name with different input."""


class IllegalTransition(StateError):
    """Raised when a status change is not in the table of legal transitions."""

    def __init__(self, old: str, new: str) -> None:
        super().__init__(f"cannot move a stage from {old} to {new}")
        self.old = old
        self.new = new


class PreconditionFailed(IllegalTransition):
    """Raised when a named change (``state.changes``) does not apply to the stage as it is now.

    The one answer to "only if still RUNNING / PENDING / this attempt": ``change`` names the change,
    ``stage`` is the record as found (``task_name`` its name), ``expected`` the statuses the change applies
    to, ``found`` the status the stage has; ``attempt`` the run's attempt it was limited to (None: any) and
    ``why`` what else did not hold (already re-queued once, another attempt owns the stage).
    """

    def __init__(
        self,
        change: str,
        stage: StageRecord,
        expected: frozenset[str],
        *,
        attempt: int | None = None,
        why: str = "",
    ) -> None:
        found = str(stage.status)
        wanted = " or ".join(sorted(str(s) for s in expected))
        detail = f": {why}" if why else ""
        StateError.__init__(
            self, f"{change} does not apply to {stage.task_name!r}: expected {wanted}, found {found}{detail}"
        )
        self.change = change
        self.stage = stage
        self.task_name = stage.task_name
        self.expected = expected
        self.found = found
        self.attempt = attempt
        self.why = why
        self.old = found
        self.new = found


class StageNotTerminal(StateError):
    """Raised when a result is asked for while the stage is still pending or running."""


class StageFinished(StateError):
    """Raised when a finished stage is asked to change (cancel, re-run)."""


class ConcurrentUpdate(StateError):
    """Raised when a stage kept changing under a writer for too many attempts."""


class LeaseNotHeld(StateError):
    """Raised when a stage commit is refused because its GPU lease is no longer held."""


class PathOutsideRoot(StateError):
    """Raised when a path leaves the storage root or is otherwise not allowed."""


class BrokenReference(StateError):
    """Raised when a ``${{ stages.<task>.output.<field> }}`` reference cannot be resolved."""


class DependencyNotReady(StateError):
    """Raised when a referenced stage exists but has not finished yet."""

    def __init__(self, message: str, task_name: str) -> None:
        super().__init__(message)
        self.task_name = task_name


class LimitExceeded(StateError):
    """Raised when a submit would pass a limit of its API key (``limit`` names it, e.g. ``max_queued``)."""

    def __init__(self, key: str, limit: str, value: int, current: int, retry_after_ms: int | None) -> None:
        super().__init__(f"API key {key!r} is at its limit {limit} = {value} (current: {current})")
        self.key = key
        self.limit = limit
        self.value = value
        self.current = current
        self.retry_after_ms = retry_after_ms
