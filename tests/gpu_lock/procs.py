"""Child-process bodies for the multi-process tests (run under multiprocessing's spawn)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import msgspec
import redis

from config.gpu import GpuLockSettings
from gpu_lock import GpuLock, HolderInfo

HOLDS = "test:holds"
READY = "test:ready"
GO = "test:go"


def _settings(raw: dict[str, Any]) -> GpuLockSettings:
    return msgspec.convert(raw, GpuLockSettings)


def _record(client: redis.Redis, name: str, device: int, fencing: int, acquired_ns: int) -> None:
    inside = client.incr(f"test:inside:{device}")
    released_ns = time.monotonic_ns()
    client.decr(f"test:inside:{device}")
    row = {"name": name, "device": device, "fencing": fencing, "inside": inside}
    client.rpush(HOLDS, json.dumps({**row, "acquired_ns": acquired_ns, "released_ns": released_ns}))


def contend(url: str, raw: dict[str, Any], name: str, rounds: int) -> None:
    """Wait for the start signal, then take and give back the lease ``rounds`` times, recording each hold."""
    client = redis.Redis.from_url(url)
    client.incr(READY)
    client.blpop([GO], timeout=30)
    lock = GpuLock(client, _settings(raw))
    for _ in range(rounds):
        lease = lock.acquire(HolderInfo(task_id=name, task_name="contend"))
        _record(client, name, lease.device, lease.fencing_token, time.monotonic_ns())
        lock.release(lease)


def hold_until_killed(url: str, raw: dict[str, Any]) -> None:
    """Take the lease, keep renewing it, and block until the test kills this process."""
    lock = GpuLock(redis.Redis.from_url(url), _settings(raw))
    with lock.hold(HolderInfo(task_id="doomed-holder", task_name="hold")):
        threading.Event().wait()


def wait_until_killed(url: str, raw: dict[str, Any]) -> None:
    """Queue for the lease; the test kills this process while it waits."""
    lock = GpuLock(redis.Redis.from_url(url), _settings(raw))
    lock.acquire(HolderInfo(task_id="doomed-waiter", task_name="wait"))
