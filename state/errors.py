"""The state package's errors."""


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


class StaleAttempt(IllegalTransition):
    """Raised when a run would end a stage that has moved on without it (re-queued, or run again elsewhere)."""

    def __init__(self, attempt: int, status: str, attempts: int) -> None:
        StateError.__init__(
            self, f"attempt {attempt} no longer owns the stage (now {status}, attempt {attempts}): its end is dropped"
        )
        self.old = status
        self.new = status


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
