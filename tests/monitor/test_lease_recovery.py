"""A dead run's lease is freed even when the worker died before its run record named the lease."""

import os
import socket

import msgspec
import redis
import redis.asyncio as aioredis

from config import Settings
from gpu_lock import GpuLock, HolderInfo, aread_status
from monitor.actions import Actions
from state import StageRecord, StateStore, Status
from state.tracking import AsyncTracker, RunInfo


def _start(stage: StageRecord) -> StageRecord:
    stage.status = Status.RUNNING
    return stage


async def test_lease_granted_but_not_yet_in_the_run_record_is_force_released(
    aredis: aioredis.Redis, redis_client: redis.Redis
) -> None:
    settings = msgspec.convert({"gpu_lock": {"devices": [{"index": 0, "capacity": 2}]}}, Settings)
    store = StateStore(aredis, settings.state_ttl_s)
    await store.create_stage("orphan", "system.gpu_hold", {"seconds": 60})
    await store.update_stage("orphan", "system.gpu_hold", _start)
    host, pid = socket.gethostname(), os.getpid() + 100_000  # a worker process that no longer exists
    lock = GpuLock(redis_client, settings.gpu_lock)
    lock.acquire(HolderInfo(task_id="orphan", task_name="system.gpu_hold", host=host, pid=pid))
    lock.acquire(HolderInfo(task_id="other", task_name="system.gpu_hold", host=host, pid=pid + 1))
    run = RunInfo(workflow_id="orphan", task_name="system.gpu_hold", host=host, pid=pid, started_ms=0)
    assert run.gpu_device is None  # killed between the grant and the record that names it

    await Actions(client=aredis, store=store, tracker=AsyncTracker(aredis), enqueue=None).recover_dead(run, settings)

    holders = (await aread_status(aredis, settings.gpu_lock)).devices[0].holders
    assert [h.task_id for h in holders] == ["other"]  # the dead run's lease only
    assert (await store.get("orphan")).latest_stage.status == Status.FAILED
