"""Script reply codes, parsed into small results; refusals are mapped to exceptions here only."""

from __future__ import annotations

from typing import NamedTuple

from gpu_lock.errors import LeaseExpired, LeaseLost, LockTimeoutExceeded, NotLeaseHolder

GRANTED = 1
CLAIMED = 2  # a lease handed over earlier, claimed by the caller's acquire
QUEUED = 0
OK = 1
NOT_HOLDER = -2
EXPIRED = -3
LOCK_TIMEOUT = -4

_REFUSALS: dict[int, tuple[type[LeaseLost], str]] = {
    NOT_HOLDER: (NotLeaseHolder, "holds no lease (released, expired or force-released)"),
    EXPIRED: (LeaseExpired, "expired before it was renewed"),
    LOCK_TIMEOUT: (LockTimeoutExceeded, "was held for lock_timeout; renewal refused"),
}


class Granted(NamedTuple):
    """A lease was granted: by the caller's acquire script, or handed over by another script."""

    device: int
    fencing_token: int
    expires_at_ms: int
    now_ms: int
    granted_at_ms: int
    # Granted by the caller's own acquire call: its wait is the client's to count (gpu_lock/lease_figures.py).
    fresh: bool = False


class Queued(NamedTuple):
    """The acquire script queued the caller; ``next_expiry_ms`` is 0 when no lease is held."""

    seq: int
    next_expiry_ms: int
    now_ms: int


class Outcome(NamedTuple):
    """The reply of release or force-release: a code and the server time."""

    code: int
    now_ms: int


def parse_acquire(reply: bytes | str) -> Granted | Queued:
    """Parse the acquire script's reply: ``1 device fencing expiry now granted``, ``2 ...`` or ``0 seq expiry now``.

    Code 1: granted by this call (the client counts its wait); 2: a lease handed over before, claimed now.
    """
    code, *values = map(int, reply.split())
    if code == QUEUED:
        return Queued(*values)
    device, fencing, expiry, now, granted = values
    return Granted(device, fencing, expiry, now, granted, code == GRANTED)


def parse_hand_over(payload: bytes | str) -> Granted:
    """Parse the ``device fencing expiry granted_ms`` that a hand-over pushes to the waiter's wake list."""
    device, fencing, expiry, granted = map(int, payload.split())
    return Granted(device, fencing, expiry, granted, granted)


def parse_outcome(reply: bytes | str) -> Outcome:
    """Parse a ``code now_ms`` reply."""
    code, now_ms = reply.split()
    return Outcome(int(code), int(now_ms))


def refusal(code: int, action: str, device: int, fencing_token: int) -> LeaseLost | None:
    """Return the error for a refused renew or release, or None when the code means success."""
    if code not in _REFUSALS:
        return None
    error, why = _REFUSALS[code]
    return error(f"{action} refused: lease {fencing_token} on device {device} {why}")
