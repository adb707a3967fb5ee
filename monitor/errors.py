"""The monitor's errors."""


class MonitorError(Exception):
    """Base of every error raised by the monitor package."""
