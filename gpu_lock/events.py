"""What happens to a lease after each script reply: state updates, refusals and log events."""

from __future__ import annotations

from contextvars import ContextVar
from functools import cache
from typing import Any

import structlog

from gpu_lock.errors import LeaseLost, LockWaitTimeout
from gpu_lock.lease import Lease
from gpu_lock.replies import Outcome, refusal
from gpu_lock.waiting import Attempt

log = structlog.get_logger(__name__)


@cache
def _hot_log() -> Any:
    """Return the logger bound once, for the two events of every lease pair.

    The lazy proxy binds on each attribute access (about 1.4 us per call even at a level that drops the event);
    logging is configured with ``cache_logger_on_first_use``, so binding once at first use changes nothing.
    """
    return log.bind()


CURRENT_LEASE: ContextVar[Lease | None] = ContextVar("gpu_lease", default=None)


def current_lease() -> Lease | None:
    """Return the lease held by the enclosing ``hold`` (or ``gpu_lock`` call), if any."""
    return CURRENT_LEASE.get()


def acquired(lease: Lease) -> Lease:
    """Log a grant and return the lease."""
    _hot_log().info(
        "lease_acquired",
        device=lease.device,
        fencing_token=lease.fencing_token,
        waited_s=round(lease.waited_s, 6),
        task_id=lease.owner.task_id,
        task_name=lease.owner.task_name,
    )
    return lease


def timed_out(attempt: Attempt) -> LockWaitTimeout:
    """Log a spent ``max_wait_time`` and return the error to raise."""
    error = attempt.timeout_error()
    log.warning("lease_wait_timeout", device=attempt.device, waited_s=round(error.waited_s, 3))
    return error


def renewed(lease: Lease, reply: bytes | str, sent_monotonic: float) -> None:
    """Apply a renew reply (``code [expiry_ms now_ms]``).

    Raises:
        LeaseLost: the renewal was refused; the lease is marked lost.
    """
    code, *rest = map(int, reply.split())
    _raise_refusal(lease, code, "renew")
    lease.renewed(rest[0], rest[1], sent_monotonic)


def released(lease: Lease, outcome: Outcome) -> None:
    """Apply a release reply.

    Raises:
        LeaseLost: the lease was no longer held; nothing else was touched.
    """
    _raise_refusal(lease, outcome.code, "release")
    lease.released_at_ms = outcome.now_ms
    held_s = (outcome.now_ms - lease.acquired_at_ms) / 1000
    _hot_log().info("lease_released", device=lease.device, fencing_token=lease.fencing_token, held_s=held_s)


def force_released(device: int, fencing_token: int, reason: str, done: bool) -> bool:
    """Log a force release and return whether a lease was removed."""
    log.warning("lease_force_released", device=device, fencing_token=fencing_token, reason=reason, removed=done)
    return done


def release_failed(lease: Lease, error: Exception) -> None:
    """Log a release that could not reach Redis; the lease runs out at its TTL."""
    log.warning("lease_release_failed", device=lease.device, fencing_token=lease.fencing_token, error=str(error))


def _raise_refusal(lease: Lease, code: int, action: str) -> None:
    error: LeaseLost | None = refusal(code, action, lease.device, lease.fencing_token)
    if error is not None:
        lease.mark_lost(error)
        raise error
