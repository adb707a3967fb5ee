"""The errors of the GPU lease lock: one base, leaves named for the condition."""

from __future__ import annotations


class GpuLockError(Exception):
    """Raised when the GPU lease lock cannot do what was asked; base of this package's errors."""


class UnknownDevice(GpuLockError, ValueError):
    """Raised when a requested device is not listed in ``gpu_lock.devices``."""


class RequestTooLarge(GpuLockError, ValueError):
    """Raised when a lease asks for more memory than any (or the requested) device has, or for none."""


class LockWaitTimeout(GpuLockError):
    """Raised when a wait for a lease exceeds ``max_wait_time``."""

    def __init__(self, device: int | None, waited_s: float) -> None:
        where = "any device" if device is None else f"device {device}"
        super().__init__(f"GPU busy: waited {round(waited_s, 1):g} s for {where}")
        self.device = device
        self.waited_s = waited_s


class LeaseLost(GpuLockError):
    """Raised when a lease is no longer held: it expired, was force-released or outlived lock_timeout."""


class NotLeaseHolder(LeaseLost):
    """Raised when the lease token is not among the device's holders (released, purged, force-released)."""


class LeaseExpired(LeaseLost):
    """Raised when the lease's expiry passed before it was renewed or released."""


class LockTimeoutExceeded(LeaseLost):
    """Raised when a holder asks to renew a lease it has held for ``lock_timeout``."""
