"""Force-release a lease by its fencing token from asyncio code: the monitor's recovery and the admin route.

Holders take and renew leases with the synchronous ``GpuLock`` (in worker threads); asyncio code only ever
removes someone else's lease, so this one call is all it needs of the lock.
"""

from __future__ import annotations

from redis.asyncio import Redis

from config.gpu import GpuLockSettings
from gpu_lock.events import force_released
from gpu_lock.layout import Layout
from gpu_lock.replies import parse_outcome
from gpu_lock.scripts import SCRIPTS
from redis_io import AsyncChannel


async def aforce_release(redis: Redis, settings: GpuLockSettings, device: int, fencing_token: int, reason: str) -> bool:
    """Remove the lease with ``fencing_token`` from ``device``, record why, and say whether one was removed.

    Raises:
        UnknownDevice: ``device`` is not configured.
    """
    keys_, args = Layout(settings).force_release_call(device, fencing_token, reason)
    outcome = parse_outcome(await SCRIPTS["force_release"].run(AsyncChannel(redis), keys_, args))
    return force_released(device, fencing_token, reason, outcome.code == 1)
