"""Redis going away and coming back; a worker killed mid-task."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import aiohttp

from taskgate.embedded_redis import EmbeddedRedis
from tests.harness import Client, System, async_wait_until


async def test_redis_outage_gives_503_with_retry_after_and_the_gateway_recovers(
    make_system: Callable[..., System], tmp_path: Path
) -> None:
    own_redis = EmbeddedRedis(tmp_path / "redis", persist=False)
    own_redis.start()
    system = make_system(url=own_redis.url)
    system.start_gateway()
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, system.base_url)
            await client.submit("system.ping", {}, task_id="before-outage")
            own_redis.stop()

            status, body, headers = await client.request(
                "POST", "/v1/tasks", json={"task_name": "system.ping", "input_data": {}}
            )
            assert status == 503, body
            assert headers["Content-Type"].startswith("application/problem+json")
            assert int(headers["Retry-After"]) > 0
            status, _, headers = await client.request("GET", "/readyz")
            assert status == 503
            assert "Retry-After" in headers
            assert (await client.request("GET", "/healthz"))[0] == 200

            own_redis.start()

            async def ready() -> bool:
                return (await client.request("GET", "/readyz"))[0] == 200

            await async_wait_until(ready, timeout_s=20, what="readyz after Redis restart")
            accepted = await client.submit("system.ping", {}, task_id="after-outage")
            assert accepted["status"] == "PENDING"
    finally:
        own_redis.stop()


async def test_worker_killed_mid_task_then_restarted_leaves_a_consistent_record(
    make_system: Callable[..., System],
) -> None:
    system = make_system(
        {
            "TASKGATE_BROKER_HEARTBEAT_TIMEOUT_S": "2",
            "TASKGATE_BROKER_MAINTENANCE_CHANCE": "1000000",
            "TASKGATE_GPU_LOCK_MONITOR__ENABLED": "false",
        }
    )
    system.start_worker()
    system.start_gateway()
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        await client.submit("system.sleep", {"seconds": 2.0}, task_id="killed")
        await client.wait("killed", statuses={"RUNNING"}, timeout_s=30)

        system.kill("worker", signal.SIGKILL)
        record = await client.task("killed")
        assert record["status"] == "RUNNING"

        system.start_worker()
        record = await client.wait("killed", timeout_s=60)

    assert record["status"] == "SUCCESS", record
    assert list(record["stages"]) == ["system.sleep"]
    stage = record["stages"]["system.sleep"]
    assert stage["attempts"] == 2
    assert stage["output"]["slept_s"] >= 2.0
    assert stage["error"] is None
    assert stage["finished_at"] >= stage["started_at"]
