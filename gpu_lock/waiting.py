"""One acquire call without its I/O: token, place in the queue, backoff, deadline and the lease."""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import msgspec

from config import keys
from gpu_lock.backoff import Backoff
from gpu_lock.errors import LockWaitTimeout
from gpu_lock.layout import CLAIM_WINDOW_MS, SHARED_KEYS, WAITER_GRACE_S, Layout, wake_key
from gpu_lock.lease import HolderInfo, Lease
from gpu_lock.replies import Granted, Queued, parse_hand_over

# Wake this long after the earliest lease expiry, so the retry finds it expired.
EXPIRY_SLACK_S = 0.002
# Redis turns a BLPOP timeout under 1 ms into 0, which blocks forever: never ask for less than this.
MIN_WAIT_S = 0.002
# A BLPOP must return this long before the client's socket timeout would fire.
SOCKET_MARGIN_S = 0.5


def socket_timeout_of(pool: Any) -> object:
    """Return the socket timeout a client's connections get: the pool's setting, else the connection default.

    ``Redis.from_url`` leaves the timeout out of ``connection_kwargs`` unless the URL names it, and
    redis-py 8 gives connections a 5 s default: a BLPOP longer than that would fail with a TimeoutError.
    """
    kwargs = pool.connection_kwargs
    if "socket_timeout" in kwargs:
        return kwargs["socket_timeout"]
    return getattr(pool.connection_class(**kwargs), "socket_timeout", None)  # builds, does not connect


def block_limit_s(socket_timeout: object) -> float | None:
    """Return the longest BLPOP a client with this socket timeout can wait, or None when unlimited."""
    if not isinstance(socket_timeout, int | float) or socket_timeout <= 0:
        return None
    if socket_timeout > 2 * SOCKET_MARGIN_S:
        return socket_timeout - SOCKET_MARGIN_S
    return max(MIN_WAIT_S, socket_timeout / 2)


class Attempt:
    """The state of one acquire call; ``GpuLock.acquire`` drives it."""

    def __init__(
        self,
        layout: Layout,
        owner: HolderInfo,
        device: int | None,
        max_wait_time_s: float | None,
        *,
        rng: random.Random | None = None,
        block_limit_s: float | None = None,
    ) -> None:
        self.layout = layout
        self.owner = owner
        self.device = device
        self.amount = layout.amount(owner.memory_mb)
        self.devices = layout.candidates(device, self.amount)
        # The scripts read the lease's amount from the token's tail (amount_of in lib.lua).
        self.token = f"{secrets.token_hex(16)}.{self.amount}"
        self.waiter_id = self.token[:16]  # acquire.lua takes the same prefix
        self.seq = 0
        self.waited_ms = 0  # as sent with the last try: the wait a grant by that try counts
        self.done = False
        self.started = time.monotonic()
        wait_s = layout.settings.max_wait_time if max_wait_time_s is None else max_wait_time_s
        self.deadline = self.started + wait_s
        self._rng = rng
        self.block_limit_s = block_limit_s
        self._owner_json = msgspec.json.encode(owner)
        # Built once per request by the layout and shared: never mutated.
        self.keys, self._request_arg = layout.acquire_call(device, self.devices)

    @cached_property
    def backoff(self) -> Backoff:
        """Return the poll schedule, made on the first wait (an uncontended call never waits)."""
        return Backoff(self.layout.settings, self._rng)

    @cached_property
    def wake_key(self) -> str:
        """Return the list this waiter blocks on (acquire.lua names it from the waiter id too)."""
        return wake_key(self.waiter_id)

    @property
    def queued(self) -> bool:
        """Return whether the caller stands in a queue it must leave if it gives up."""
        return self.seq > 0 and not self.done

    def waited_s(self) -> float:
        """Return the seconds since the call began."""
        return time.monotonic() - self.started

    def args(self) -> list[str | int | bytes]:
        """Return the acquire script's ARGV for the next try."""
        if "backoff" in self.__dict__:  # waited already: the poll interval may have grown
            waiter_ttl_ms = int((self.backoff.upper_bound_s() + WAITER_GRACE_S) * 1000)
        else:
            waiter_ttl_ms = self.layout.first_waiter_ttl_ms
        self.waited_ms = waited_ms = int(self.waited_s() * 1000)
        return [self.token, self.seq, waiter_ttl_ms, self._owner_json, waited_ms, self._request_arg]

    def next_wait_s(self, queued: Queued) -> float | None:
        """Return how long to block before the next try, or None once ``max_wait_time`` is spent."""
        self.seq = queued.seq
        remaining_s = self.deadline - time.monotonic()
        if remaining_s <= 0:
            return None
        wait_s = self.backoff.next_s()
        if queued.next_expiry_ms:
            until_expiry_s = max(0.0, (queued.next_expiry_ms - queued.now_ms) / 1000)
            wait_s = min(wait_s, until_expiry_s + EXPIRY_SLACK_S)
        if self.block_limit_s is not None:
            wait_s = min(wait_s, self.block_limit_s)
        return round(max(MIN_WAIT_S, min(wait_s, remaining_s)), 3)

    def after_wait(self, popped: Sequence[bytes | str] | None, sent_monotonic: float) -> Lease | None:
        """Return the lease a BLPOP (sent at ``sent_monotonic``) brought, or lengthen the poll interval.

        A hand-over pushes the grant to the waiter's wake list, so such a value means the lease is already ours;
        ``retry`` means a waiter that stood first in one of our queues left it: try again at once.
        """
        if popped is None:
            self.backoff.grow()
            return None
        if popped[1] in (b"retry", "retry"):
            return None
        return self.lease(parse_hand_over(popped[1]), sent_monotonic, handed_over=True)

    def lease(self, granted: Granted, sent_monotonic: float, *, handed_over: bool = False) -> Lease:
        """Return the lease for a grant whose request was sent at ``sent_monotonic``.

        A handed-over lease lasts the claim window until its first renewal (``claim_pending``).
        """
        self.done = True
        lease = Lease(
            device=granted.device,
            token=self.token,
            fencing_token=granted.fencing_token,
            waited_s=self.waited_s(),
            acquired_at_ms=granted.granted_at_ms,
            owner=self.owner,
            expires_at_ms=granted.expires_at_ms,
            ttl_s=self.layout.settings.lease_ttl,
            amount=self.amount,
            by_memory=self.layout.by_memory,
        )
        lease.renewed(granted.expires_at_ms, granted.now_ms, sent_monotonic)
        lease.claim_pending = handed_over
        return lease

    def timeout_error(self) -> LockWaitTimeout:
        """Return the error for a spent ``max_wait_time``."""
        return LockWaitTimeout(self.device, self.waited_s())

    def leave_keys(self) -> list[str | bytes]:
        """Return the leave script's KEYS."""
        scope = keys.GPU_ANY_DEVICE if self.device is None else self.device
        stats = keys.GPU_STATS.format(device=scope)
        head = [keys.GPU_WAITER_DEADLINES, keys.GPU_WAITER_INFO, self.wake_key, stats, keys.GPU_FENCING, keys.EVENTS]
        return [*head, *self.keys[len(SHARED_KEYS) :]]

    def leave_args(self, timed_out: bool) -> list[str | int]:
        """Return the leave script's ARGV."""
        self.done = True
        pairs = self.layout.device_pairs(self.devices)
        return [self.waiter_id, 1 if timed_out else 0, CLAIM_WINDOW_MS, self.token, *pairs]
