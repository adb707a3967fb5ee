"""Errors raised by actors and their lifecycle."""


class TaskError(Exception):
    """Base of every error an actor raises on purpose."""


class InputError(TaskError):
    """Raised when a stage's input cannot be used; the stage fails at once, without retries."""


class InputFileError(InputError):
    """Raised when an input file is missing, unreadable or not what the task needs."""


class TransientError(TaskError):
    """Raised when a failure may pass (a network error, a busy engine); the stage is retried."""


class RedisAway(TransientError):
    """Raised at a checkpoint when Redis has been unreachable for longer than ``redis_grace_s``."""


class TaskCancelled(TaskError):
    """Raised at a checkpoint when someone asked the stage to stop."""


class EngineUnavailable(TaskError):
    """Raised when an engine or its model is not installed or not configured; says how to fix it."""


class EngineFailed(TaskError):
    """Raised when an engine ran and failed on this input."""
