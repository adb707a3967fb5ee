"""Keep a held lease alive from outside the work: a thread for sync holders, a task for async ones."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

import structlog
from redis.exceptions import RedisError

from gpu_lock.errors import LeaseExpired, LeaseLost
from gpu_lock.lease import Lease

log = structlog.get_logger(__name__)

# Renew at this fraction of the TTL, so two renewals can fail before the lease runs out.
RENEW_FRACTION = 1 / 3
# After a failed call, try again this soon (bounded by what is left of the lease).
RETRY_S = 0.05

OnLost = Callable[[Lease], None]


def next_delay_s(lease: Lease, failed: bool) -> float | None:
    """Return how long to wait before the next renewal, or None once the lease has run out locally.

    A handed-over lease is renewed at once: that claims it for a full TTL.
    """
    if not failed:
        return 0.0 if lease.claim_pending else lease.ttl_s * RENEW_FRACTION
    remaining_s = lease.remaining_s()
    if remaining_s <= 0:
        return None
    return min(lease.ttl_s * RENEW_FRACTION, max(RETRY_S, remaining_s / 4))


def lose(lease: Lease, reason: LeaseLost, on_lost: OnLost | None) -> None:
    """Mark the lease lost, log it and tell the holder."""
    lease.mark_lost(reason)
    log.warning("lease_lost", device=lease.device, fencing_token=lease.fencing_token, reason=str(reason))
    if on_lost is not None:
        on_lost(lease)


def _expired(lease: Lease) -> LeaseExpired:
    return LeaseExpired(f"lease {lease.fencing_token} on device {lease.device} ran out: renewals failed")


class RenewalThread(threading.Thread):
    """Renew a lease every third of its TTL until stopped; on failure set ``lease.lost``."""

    def __init__(self, renew: Callable[[Lease], None], lease: Lease, on_lost: OnLost | None) -> None:
        super().__init__(name=f"gpu-lease-renew-{lease.device}-{lease.fencing_token}", daemon=True)
        self._renew = renew
        self._lease = lease
        self._on_lost = on_lost
        self._stop_event = threading.Event()

    def stop(self) -> None:
        """Stop renewing and wait for a renewal in flight to finish."""
        self._stop_event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=self._lease.ttl_s)

    def run(self) -> None:
        """Renew until stopped or lost."""
        delay_s = next_delay_s(self._lease, failed=False)
        while delay_s is not None and not self._stop_event.wait(delay_s):
            try:
                self._renew(self._lease)
                delay_s = next_delay_s(self._lease, failed=False)
            except LeaseLost as exc:
                if not self._stop_event.is_set():
                    lose(self._lease, exc, self._on_lost)
                return
            except (RedisError, OSError) as exc:  # OSError: a socket error from a channel connection
                log.warning("lease_renew_failed", device=self._lease.device, error=str(exc))
                delay_s = next_delay_s(self._lease, failed=True)
        if delay_s is None and not self._stop_event.is_set():
            lose(self._lease, _expired(self._lease), self._on_lost)


async def renew_forever(
    renew: Callable[[Lease], Awaitable[None]], lease: Lease, on_lost: Callable[[Lease], None]
) -> None:
    """Renew a lease every third of its TTL until cancelled; on failure call ``on_lost`` and return."""
    delay_s = next_delay_s(lease, failed=False)
    while delay_s is not None:
        await asyncio.sleep(delay_s)
        try:
            await renew(lease)
            delay_s = next_delay_s(lease, failed=False)
        except LeaseLost as exc:
            lose(lease, exc, on_lost)
            return
        except RedisError as exc:
            log.warning("lease_renew_failed", device=lease.device, error=str(exc))
            delay_s = next_delay_s(lease, failed=True)
    lose(lease, _expired(lease), on_lost)
