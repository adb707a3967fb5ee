"""The monitor's errors."""


class MonitorError(Exception):
    """Base of every error raised by the monitor package."""


class StageNotRunning(MonitorError):
    """Raised when a tier would act on a stage that has already left RUNNING."""


class StageNotPending(MonitorError):
    """Raised when the monitor would send a stage again that has already left PENDING."""
