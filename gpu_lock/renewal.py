"""Keep a held lease alive from outside the work: a renewal thread beside the holder.

A lease counts as lost once its local expiry estimate passes without a successful renewal, even while a
renewal call is still waiting for Redis (a network partition holds it for the client's socket timeout):
by then the lease may have expired on the server and been granted to another holder.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog
from redis.exceptions import RedisError

from gpu_lock.errors import LeaseExpired, LeaseLost
from gpu_lock.lease import Lease

log = structlog.get_logger(__name__)

# Renew at this fraction of the TTL, so two renewals can fail before the lease runs out.
RENEW_FRACTION = 1 / 3
# After a failed call, try again this soon (bounded by what is left of the lease).
RETRY_S = 0.05
# A renewal still waiting this share of the TTL before the local expiry estimate counts the lease as lost,
# so a late wake-up of the watchdog (a busy host) cannot outlive the server's expiry.
SAFETY_FRACTION = 0.1

OnLost = Callable[[Lease], None]


def next_delay_s(lease: Lease, failed: bool) -> float | None:
    """Return how long to wait before the next renewal, or None once the lease counts as lost.

    A handed-over lease is renewed at once: that claims it for a full TTL. A lease whose expiry comes
    sooner than a third of the TTL (capped at ``lock_timeout``) is renewed as it nears it, so the refusal
    names the reason.
    """
    if not failed:
        return 0.0 if lease.claim_pending else min(lease.ttl_s * RENEW_FRACTION, max(RETRY_S, safe_remaining_s(lease)))
    remaining_s = safe_remaining_s(lease)
    if remaining_s <= 0:
        return None
    return min(lease.ttl_s * RENEW_FRACTION, max(RETRY_S, remaining_s / 4))


def safe_remaining_s(lease: Lease) -> float:
    """Return how long a renewal may still wait for Redis before the lease counts as lost."""
    return lease.remaining_s() - lease.ttl_s * SAFETY_FRACTION


def lose(lease: Lease, reason: LeaseLost, on_lost: OnLost | None) -> None:
    """Mark the lease lost, log it and tell the holder."""
    lease.mark_lost(reason)
    log.warning("lease_lost", device=lease.device, fencing_token=lease.fencing_token, reason=str(reason))
    if on_lost is not None:
        on_lost(lease)


def _expired(lease: Lease) -> LeaseExpired:
    return LeaseExpired(f"lease {lease.fencing_token} on device {lease.device} ran out: renewals failed")


class RenewalThread(threading.Thread):
    """Renew a lease every third of its TTL until stopped; on failure set ``lease.lost``.

    A watchdog thread declares the lease lost at its local expiry while a renewal call hangs.
    """

    def __init__(self, renew: Callable[[Lease], None], lease: Lease, on_lost: OnLost | None) -> None:
        super().__init__(name=f"gpu-lease-renew-{lease.device}-{lease.fencing_token}", daemon=True)
        self._renew = renew
        self._lease = lease
        self._on_lost = on_lost
        self._stop_event = threading.Event()
        self._losing = threading.Lock()
        self._reported = False
        self._call_started: float | None = None
        self._watchdog = threading.Thread(target=self._watch, name=f"{self.name}-watchdog", daemon=True)

    def stop(self) -> None:
        """Stop renewing and wait for a renewal in flight to finish."""
        self._stop_event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=self._lease.ttl_s)

    def run(self) -> None:
        """Renew until stopped or lost."""
        delay_s = next_delay_s(self._lease, failed=False)
        while delay_s is not None and not self._stop_event.wait(delay_s) and not self._reported:
            if self._watchdog.ident is None:  # started with the first renewal: short holds never need one
                self._watchdog.start()
            self._call_started = time.monotonic()
            try:
                self._renew(self._lease)
                delay_s = next_delay_s(self._lease, failed=False)
            except LeaseLost as exc:
                self._lose(exc)
                return
            except (RedisError, OSError) as exc:  # OSError: a socket error from a channel connection
                log.warning("lease_renew_failed", device=self._lease.device, error=str(exc))
                delay_s = next_delay_s(self._lease, failed=True)
            finally:
                self._call_started = None
        if delay_s is None:
            self._lose(_expired(self._lease))

    def _watch(self) -> None:
        """Declare the lease lost when it nearly runs out locally while a renewal call has been waiting (a partition).

        A call sent just as the lease runs out (the last one before ``lock_timeout``) gets its answer first.
        """
        while not self._reported:
            wait_s = safe_remaining_s(self._lease)
            if wait_s <= 0:
                started = self._call_started
                if started is not None and time.monotonic() - started >= RETRY_S:
                    self._lose(_expired(self._lease))
                    return
                wait_s = RETRY_S / 5
            if self._stop_event.wait(wait_s):
                return

    def _lose(self, reason: LeaseLost) -> None:
        with self._losing:  # the renewer and the watchdog may both find it lost: report it once
            if not self._stop_event.is_set() and not self._reported:
                self._reported = True
                lose(self._lease, reason, self._on_lost)
