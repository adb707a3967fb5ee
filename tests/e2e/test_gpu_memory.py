"""Memory-weighted leases through the whole system: gpu_hold with memory_mb, the stage record, 422 at submit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from tests.harness import Client, System

DEVICES = json.dumps([{"index": 0, "memory_mb": 10_000}])


@pytest.fixture
async def weighted(make_system: Callable[..., System]) -> AsyncIterator[Client]:
    """A gateway and a worker (two threads) on one 10000 MiB device with a 1000 MiB reserve."""
    env = {
        "TASKGATE_GPU_LOCK__DEVICES": DEVICES,
        "TASKGATE_GPU_LOCK__RESERVE_MB": "1000",
        "TASKGATE_GPU_LOCK__TASK_MEMORY_MB": json.dumps({"system.gpu_hold": 3000}),
    }
    system = make_system(env)
    system.start_worker()
    system.start_gateway()
    async with aiohttp.ClientSession() as session:
        yield Client(session, system.base_url)


async def test_holds_that_fit_share_the_device_and_one_larger_than_every_device_is_refused(weighted: Client) -> None:
    status, body, headers = await weighted.request(
        "POST", "/v1/tasks", json={"task_name": "system.gpu_hold", "input_data": {"seconds": 1, "memory_mb": 9500}}
    )
    assert status == 422, body
    assert headers["Content-Type"].startswith("application/problem+json")
    assert "the largest device, 0, has 9000 MiB" in body["detail"]
    status, body, _ = await weighted.request(
        "POST", "/v1/tasks", json={"task_name": "system.gpu_hold", "input_data": {"seconds": 1, "memory_mb": 0}}
    )
    assert status == 422, body
    assert "memory_mb" in json.dumps(body)
    await asyncio.gather(
        weighted.submit("system.gpu_hold", {"seconds": 1.5, "memory_mb": 4000}, task_id="mem-a"),
        weighted.submit("system.gpu_hold", {"seconds": 1.5}, task_id="mem-b"),  # the settings' 3000 MiB
    )
    a, b = [(await weighted.wait(t, timeout_s=60))["stages"]["system.gpu_hold"] for t in ("mem-a", "mem-b")]
    for stage in (a, b):
        assert stage["status"] == "SUCCESS", stage
    assert (a["gpu"]["memory_mb"], b["gpu"]["memory_mb"]) == (4000, 3000)
    assert (a["gpu"]["declared_mb"], b["gpu"]["declared_mb"]) == (4000, 3000)
    assert a["output"]["memory_mb"] == 4000
    # 4000 + 3000 <= 9000: held at the same time, not one after the other
    assert a["gpu"]["acquired_at"] < b["gpu"]["released_at"]
    assert b["gpu"]["acquired_at"] < a["gpu"]["released_at"]
    status, metrics, _ = await weighted.request("GET", "/metrics")
    assert status == 200
    assert 'taskgate_gpu_memory_capacity_bytes{gpu="0"} 9.437184e+09' in metrics
    assert 'taskgate_gpu_memory_free_bytes{gpu="0"} 9.437184e+09' in metrics  # both released
    assert 'taskgate_gpu_lease_wait_by_task_seconds_count{task_name="system.gpu_hold"} 2.0' in metrics
