"""A Redis lease lock over the GPUs that several engines share.

A lease is an amount of one device: one slot on slot-counted devices, the MiB its holder declared
(``HolderInfo.memory_mb``) on memory-weighted ones (``gpu_lock.devices: [{index, memory_mb}]``, less
``gpu_lock.reserve_mb``). A device admits holders while their amounts fit its capacity; the amount rides at
the end of the lease token (``<hex>.<amount>``), so the scripts sum a device's holders from its holders zset.
Waiting is strictly FIFO per device: a waiter that does not fit yet stops the queue, so a big request at the
head is never passed by smaller ones (no backfilling); when a waiter standing first somewhere is granted
elsewhere or leaves, the next one there is served or told to retry at once.
Every grant carries a unique token and a monotonic fencing token; the holders zset
``gpu_lock:{device}:holders`` maps tokens to expiry ms (server TIME), and a lease is valid iff its
token's score exists and is greater than now. Holders renew at a third of ``lease_ttl``; nobody
renews past ``lock_timeout`` after the grant. All checks run inside Lua scripts (``gpu_lock/lua``).

Waiting is first come, first served per device. A waiter takes a sequence number on its first
try and stands in the queue of each device it accepts: the one it asked for, or every device when
it asked for any. The script that frees a slot (release, expiry purge, force release, a waiter leaving
with a slot it never claimed) hands it straight to the first live waiter of that device's queue: it
writes the waiter's lease (token, fencing token, holder info), takes it out of every queue, and pushes
``device fencing expiry granted_ms`` to its wake list. The waiter blocks in BLPOP on that list, so the
popped value is its lease: no second round trip, and a newcomer can never take a slot a waiter is owed.
A handed-over lease first lasts only the claim window (``CLAIM_WINDOW_MS``, 1 s); ``hold`` renews it at
once to a full TTL, and callers of plain ``acquire`` must renew within the window (``lease.claim_pending``).
So a waiter that died while queued holds the device for about a second, not a TTL. Polling with backoff
and jitter is only the safety net, and waiters also wake when the earliest lease on their devices is due
to expire. Wake lists are named from waiter ids inside Lua, so the lock needs a single Redis instance,
not Redis Cluster. Each try refreshes the waiter's deadline (its next poll plus one second); a waiter
that misses it is dropped from the queue.

Nothing runs at import time: renewal threads and tasks start when a lease is taken, in the
process that holds it. Statistics and holder/waiter details live in Redis (see ``read_status``).
"""

from __future__ import annotations

from gpu_lock.decorator import gpu_lock
from gpu_lock.errors import (
    GpuLockError,
    LeaseExpired,
    LeaseLost,
    LockTimeoutExceeded,
    LockWaitTimeout,
    NotLeaseHolder,
    RequestTooLarge,
    UnknownDevice,
)
from gpu_lock.events import current_lease
from gpu_lock.force_release import aforce_release
from gpu_lock.lease import HolderInfo, Lease, engine_env
from gpu_lock.status import (
    DeviceStatus,
    ForceRelease,
    GpuLockStatus,
    Histogram,
    HolderStatus,
    WaiterStatus,
    aread_status,
    read_status,
)
from gpu_lock.sync_lock import GpuLock

__all__ = [
    "DeviceStatus",
    "ForceRelease",
    "GpuLock",
    "GpuLockError",
    "GpuLockStatus",
    "Histogram",
    "HolderInfo",
    "HolderStatus",
    "Lease",
    "LeaseExpired",
    "LeaseLost",
    "LockTimeoutExceeded",
    "LockWaitTimeout",
    "NotLeaseHolder",
    "RequestTooLarge",
    "UnknownDevice",
    "WaiterStatus",
    "aforce_release",
    "aread_status",
    "current_lease",
    "engine_env",
    "gpu_lock",
    "read_status",
]
