"""What a holder is told and keeps: its identity, the granted lease and the engine's environment."""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from gpu_lock.errors import LeaseLost

_HOST = socket.gethostname()
_MAKING_LOST = threading.Lock()


class HolderInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Who holds or waits for a lease; ``host`` and ``pid`` default to this process."""

    task_id: str
    task_name: str
    host: str = _HOST
    pid: int = msgspec.field(default_factory=os.getpid)
    # MiB the holder asks for: its lease's amount on memory-weighted devices (slot-counted ones take 1).
    memory_mb: int = 0


def iso_utc(moment: datetime) -> str:
    """Return an ISO-8601 UTC string with milliseconds and a ``Z`` suffix."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_ms(epoch_ms: int) -> datetime:
    """Return the UTC datetime of an epoch in milliseconds."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


def engine_env(device: int) -> dict[str, str]:
    """Return the environment that pins an engine to one device."""
    return {"CUDA_VISIBLE_DEVICES": str(device)}


@dataclass(eq=False, slots=True)
class Lease:
    """A granted lease on one device; ``lost`` is set once renewal fails or the lease is taken away."""

    device: int
    token: str
    fencing_token: int
    waited_s: float
    acquired_at_ms: int  # server clock
    owner: HolderInfo
    expires_at_ms: int
    ttl_s: float
    released_at_ms: int | None = None
    lost_reason: LeaseLost | None = None
    # Local (monotonic) time by which the lease expires unless renewed; the renewer's last resort.
    expires_monotonic: float = 0.0
    # Handed over by another's release and not renewed since: it lasts only the claim window so far.
    claim_pending: bool = False
    # What the lease holds of its device: MiB on memory-weighted devices, else 1 slot.
    amount: int = 1
    by_memory: bool = False
    # Made on first use (a lease released without ``hold`` never needs one): see ``lost``.
    _lost: threading.Event | None = None

    @property
    def lost(self) -> threading.Event:
        """Return the event set once the lease is lost."""
        event = self._lost
        if event is None:
            with _MAKING_LOST:
                event = self._lost
                if event is None:
                    event = self._lost = threading.Event()
        return event

    @property
    def acquired_at(self) -> datetime:
        """Return when the lease was granted (server clock)."""
        return from_ms(self.acquired_at_ms)

    @property
    def released_at(self) -> datetime | None:
        """Return when the lease was released or ended (server clock), or None while held."""
        return None if self.released_at_ms is None else from_ms(self.released_at_ms)

    def as_record(self) -> dict[str, Any]:
        """Return the ``gpu`` entry of a stage record."""
        return {
            "device": self.device,
            "fencing_token": self.fencing_token,
            "waited_s": round(self.waited_s, 6),
            "memory_mb": self.amount if self.by_memory else None,
            "acquired_at": iso_utc(self.acquired_at),
            "released_at": None if self.released_at_ms is None else iso_utc(from_ms(self.released_at_ms)),
        }

    def engine_env(self) -> dict[str, str]:
        """Return the environment that pins an engine to this lease's device."""
        return engine_env(self.device)

    def check(self) -> None:
        """Raise if the lease has been lost; call it before committing work.

        Raises:
            LeaseLost: renewal failed, the lease expired or was force-released.
        """
        if self._lost is not None and self._lost.is_set():
            raise self.lost_reason or LeaseLost(f"lease {self.fencing_token} on device {self.device} was lost")

    def mark_lost(self, reason: LeaseLost) -> None:
        """Record that the lease is gone; the first reason wins.

        It ended at its last known expiry (server clock), or now when that is still ahead (a force release),
        not when a holder that was paused or cut off noticed.
        """
        if not self.lost.is_set():
            self.lost_reason = reason
            self.released_at_ms = min(self.expires_at_ms, int(time.time() * 1000))
            self.lost.set()

    def renewed(self, expires_at_ms: int, now_ms: int, sent_monotonic: float) -> None:
        """Record a new server expiry and its local estimate."""
        self.claim_pending = False
        self.expires_at_ms = expires_at_ms
        self.expires_monotonic = sent_monotonic + (expires_at_ms - now_ms) / 1000

    def remaining_s(self) -> float:
        """Return the locally estimated seconds until the lease expires."""
        return self.expires_monotonic - time.monotonic()
