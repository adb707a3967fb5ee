"""The errors of the Redis I/O layer: one base, leaves named for the condition."""

from __future__ import annotations


class RedisIOError(Exception):
    """Raised when Redis I/O cannot do what was asked; base of this package's errors."""


class RedisUnavailable(RedisIOError):
    """Raised when Redis stayed unreachable for longer than a caller was willing to wait."""
