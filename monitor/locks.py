"""Lock health: leases held past the hard tier, leases whose holder stopped running, and history.

The lock's own Lua expires leases that stop renewing; this finds the ones that keep renewing but
should not: a lease older than its task's hard tier, or a lease whose stage has ended a while ago
(a holder that forgot to release). It also keeps a snapshot of the lock statistics every minute.
"""

from __future__ import annotations

import msgspec
import redis.asyncio as aioredis

from config import Settings, keys
from gpu_lock import DeviceStatus, GpuLockStatus, aforce_release, aread_status
from monitor.journal import event_for, record_event
from state import StateStore, TaskNotFound, is_terminal, now_ms
from state.tracking import AsyncTracker, limits_for, run_id

HISTORY_EVERY_MS = 60_000
HISTORY_KEPT = 24 * 60
# A stage that ended this long ago may no longer hold a lease (its worker releases right after the commit).
FINISHED_GRACE_MS = 5_000

_encoder = msgspec.json.Encoder()


class _Holder(msgspec.Struct, kw_only=True):
    """A lease holder as the lock stores it (``gpu_lock:{device}:info``)."""

    task_id: str
    task_name: str
    host: str
    pid: int
    since_ms: int
    fencing_token: int
    age_s: float = 0.0


_holder_decoder = msgspec.json.Decoder(_Holder)


class LockHealth:
    """Check every device's holders (a handful; never the task count) once per pass."""

    def __init__(self, client: aioredis.Redis, store: StateStore) -> None:
        self.client = client
        self.store = store
        self.last_history_ms = 0

    async def check(self, settings: Settings) -> int:
        """Force-release leases that outlived the hard tier or their stage; return how many."""
        released = 0
        for device, holder in await self._holders(settings):
            reason = await self._why_release(holder, settings)
            if reason is None:
                continue
            if await aforce_release(self.client, settings.gpu_lock, device, holder.fencing_token, reason):
                released += 1
                event = event_for(
                    "lease",
                    None,
                    reason,
                    device=device,
                    fencing_token=holder.fencing_token,
                    task_id=holder.task_id,
                    task_name=holder.task_name,
                    host=holder.host,
                    pid=holder.pid,
                    action="force_released",
                )
                await record_event(self.client, event)
        if now_ms() - self.last_history_ms >= HISTORY_EVERY_MS:
            await self._keep_history(await aread_status(self.client, settings.gpu_lock))
        return released

    async def _holders(self, settings: Settings) -> list[tuple[int, _Holder]]:
        """Return every live lease of every device (one round trip; a handful of entries)."""
        devices = [d.index for d in settings.gpu_lock.device_list]
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.time()
            for index in devices:
                pipe.zrange(keys.GPU_HOLDERS.format(device=index), 0, -1, withscores=True)
                pipe.hgetall(keys.GPU_HOLDER_INFO.format(device=index))
            replies = await pipe.execute()
        seconds, micros = replies[0]
        now = int(seconds) * 1000 + int(micros) // 1000
        found = []
        for i, index in enumerate(devices):
            zset, info = replies[1 + 2 * i], replies[2 + 2 * i]
            for token, expiry in zset:
                raw = info.get(token)
                if raw is not None and expiry > now:
                    holder = _holder_decoder.decode(raw)
                    holder.age_s = (now - holder.since_ms) / 1000
                    found.append((index, holder))
        return found

    async def _why_release(self, holder: _Holder, settings: Settings) -> str | None:
        hard_s = limits_for(settings, holder.task_name)["hard"]
        if holder.age_s > hard_s:
            return f"lease held {holder.age_s:.1f} s, past the hard tier of {hard_s:g} s"
        if await AsyncTracker(self.client).runs([run_id(holder.task_id, holder.task_name)]):
            return None
        try:
            stage, _rev = await self.store.get_stage(holder.task_id, holder.task_name)
        except TaskNotFound:
            return None  # not a taskgate stage: a direct user of the lock; its lease TTL governs it
        if is_terminal(stage.status) and now_ms() - (stage.finished_at_ms or 0) > FINISHED_GRACE_MS:
            return f"the holder's stage ended {stage.status}; the lease was never released"
        return None

    async def _keep_history(self, status: GpuLockStatus) -> None:
        at = now_ms()
        self.last_history_ms = at
        snapshot = {"at_ms": at, "devices": [_device_figures(d) for d in status.devices]}
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.lpush(keys.MONITOR_HISTORY, _encoder.encode(snapshot))
            pipe.ltrim(keys.MONITOR_HISTORY, 0, HISTORY_KEPT - 1)
            await pipe.execute()


def _device_figures(device: DeviceStatus) -> dict[str, object]:
    counters = device.counters
    tries = counters.get("acquisitions_total", 0) + counters.get("timeouts_total", 0)
    return {
        "device": device.device,
        **counters,
        "success_rate": round(counters.get("acquisitions_total", 0) / tries, 4) if tries else None,
        "wait_seconds_sum": device.wait_seconds.sum_s,
        "wait_seconds_count": device.wait_seconds.count,
        "hold_seconds_sum": device.hold_seconds.sum_s,
        "hold_seconds_count": device.hold_seconds.count,
        "holders": len(device.holders),
        "waiters": len(device.waiters),
    }
