"""The gateway built in-process (aiohttp's test client, a real Redis): typed app state, domain errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from config import load_settings
from gateway.app import create_app


@pytest.fixture
async def gateway(redis_url: str, share_dir: Path) -> AsyncIterator[TestClient]:
    # The monitor stays off: these tests look at the HTTP layer alone.
    env = {
        "TASKGATE_REDIS_URL": redis_url,
        "TASKGATE_SHARE_DIR": str(share_dir),
        "TASKGATE_GPU_LOCK_MONITOR__ENABLED": "false",
    }
    client = TestClient(TestServer(create_app(load_settings(env))))  # warnings are errors: no NotAppKeyWarning
    await client.start_server()
    yield client
    await client.close()


async def test_force_release_on_an_unknown_device_is_a_404_naming_the_device(gateway: TestClient) -> None:
    resp = await gateway.post("/v1/monitor/gpu-locks/9/release", json={"fencing_token": 1, "reason": "test"})
    assert resp.status == 404
    body = await resp.json()
    assert body["type"] == "urn:taskgate:problem:unknown-device"
    assert "device 9" in body["detail"]
    assert "no route" not in body["detail"]


async def test_force_release_with_a_token_no_lease_carries_is_a_409(gateway: TestClient) -> None:
    resp = await gateway.post("/v1/monitor/gpu-locks/0/release", json={"fencing_token": 12345, "reason": "test"})
    assert resp.status == 409
    assert (await resp.json())["type"] == "urn:taskgate:problem:lease-not-found"


async def test_submit_queues_the_message_the_broker_module_built(gateway: TestClient, redis_url: str) -> None:
    import redis

    resp = await gateway.post("/v1/tasks", json={"task_name": "system.ping", "task_id": "inproc-1", "input_data": {}})
    assert resp.status == 202
    assert resp.headers["Location"] == "/v1/tasks/inproc-1"
    client = redis.Redis.from_url(redis_url)
    # priorities on: the message waits in the submitting client's lane of its band (keys off: client "open")
    (message_id,) = client.lrange("taskgate:lane:system:normal:open", 0, -1)
    assert client.llen("dramatiq:system") == 0
    payload = client.hget("dramatiq:system.msgs", message_id)
    client.close()
    assert b'"actor_name":"system.ping"' in payload
    assert b'"workflow_id":"inproc-1"' in payload
