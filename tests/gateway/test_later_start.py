"""Later start in process (no workers): SCHEDULED records, release to the queue at run_at, cancel, and the 422s.

The runs themselves (started at their time by real workers, a later stage waiting on a scheduled one, a gateway
restart) are in tests/e2e/test_intake.py.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer

from config import keys, load_settings
from gateway.app import create_app
from tests.harness import async_wait_until

TTL_S = 3600


@pytest.fixture
async def gateway(redis_url: str, share_dir: Path) -> AsyncIterator[TestClient]:
    env = {
        "TASKGATE_REDIS_URL": redis_url,
        "TASKGATE_SHARE_DIR": str(share_dir),
        "TASKGATE_GPU_LOCK_MONITOR__ENABLED": "false",
        "TASKGATE_STATE_TTL_S": str(TTL_S),
    }
    client = TestClient(TestServer(create_app(load_settings(env))))
    await client.start_server()
    yield client
    await client.close()


async def _submit(gateway: TestClient, task_id: str, **extra: Any) -> tuple[int, Any]:
    body = {"task_name": "system.ping", "task_id": task_id, "input_data": {}, **extra}
    resp = await gateway.post("/v1/tasks", json=body)
    return resp.status, await resp.json(content_type=None)


def _ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso).timestamp() * 1000)


async def test_a_delayed_stage_is_scheduled_then_released_to_its_queue_at_its_time(
    gateway: TestClient, redis_client: redis.Redis
) -> None:
    status, body = await _submit(gateway, "later", delay_s=1.0)
    assert status == 202, body
    stage = body["stages"]["system.ping"]
    assert body["status"] == stage["status"] == "SCHEDULED"
    # run_at counts from when the gateway read the request; created_at is stamped when the record is written,
    # which a loaded machine can delay by some milliseconds
    assert 900 <= _ms(stage["run_at"]) - _ms(stage["created_at"]) <= 1100
    assert redis_client.llen("dramatiq:system") == 0  # nothing queued before its time
    listed = await (await gateway.get("/v1/tasks?status=SCHEDULED")).json()
    assert [t["task_id"] for t in listed["tasks"]] == ["later"]

    async def released() -> Any:
        record = await (await gateway.get("/v1/tasks/later")).json()
        return record if record["status"] == "PENDING" else None

    record = await async_wait_until(released, timeout_s=10, what="the stage released")
    released_ms = _ms(record["updated_at"])
    assert released_ms >= _ms(stage["run_at"])
    assert released_ms - _ms(stage["run_at"]) < 5000  # it looks four times a second (a loaded machine is slower)
    assert redis_client.llen("dramatiq:system") == 1
    assert redis_client.zcard(keys.SCHEDULED_STAGES) == 0
    assert redis_client.zscore(keys.PENDING_STAGES, "later|system.ping") is not None  # the pending sweep's net
    assert not redis_client.hexists(keys.workflow_state("later"), keys.scheduled_field("system.ping"))


async def test_a_scheduled_stage_is_cancelled_at_once_and_never_queued(
    gateway: TestClient, redis_client: redis.Redis
) -> None:
    assert (await _submit(gateway, "never", delay_s=0.5))[0] == 202
    cancel = await gateway.delete("/v1/tasks/never")
    record = await cancel.json()
    assert cancel.status == 200, record
    assert record["status"] == "CANCELLED"
    assert redis_client.zcard(keys.SCHEDULED_STAGES) == 0
    deadline = time.monotonic() + 1.5  # past its run_at: the scheduler had its chance and left it alone
    await async_wait_until(lambda: _after(deadline), timeout_s=5)
    assert (await (await gateway.get("/v1/tasks/never")).json())["status"] == "CANCELLED"
    assert redis_client.llen("dramatiq:system") == 0


async def _after(deadline: float) -> bool:
    return time.monotonic() >= deadline


async def test_run_at_takes_iso_8601_with_a_zone_or_epoch_ms(gateway: TestClient) -> None:
    soon_ms = int(time.time() * 1000) + 60_000
    iso = datetime.fromtimestamp(soon_ms / 1000, tz=UTC).isoformat()
    for task_id, run_at in (("iso", iso), ("epoch", soon_ms)):
        status, body = await _submit(gateway, task_id, run_at=run_at)
        assert status == 202, body
        assert abs(_ms(body["stages"]["system.ping"]["run_at"]) - soon_ms) <= 1
    status, body = await _submit(gateway, "now", run_at=int(time.time() * 1000) - 1000)  # within the tolerance
    assert (status, body["status"]) == (202, "PENDING")


@pytest.mark.parametrize(
    ("extra", "pointer", "words"),
    [
        ({"run_at": 1_000_000}, "$.run_at", "in the past"),
        ({"run_at": "2020-01-01T00:00:00Z"}, "$.run_at", "in the past"),
        ({"delay_s": TTL_S + 60}, "$.delay_s", f"state_ttl_s = {TTL_S} s"),
        ({"run_at": "2999-01-01T00:00:00+01:00"}, "$.run_at", "after its record expires"),
        ({"run_at": "2026-12-05T10:00:00"}, "$.run_at", "no time zone"),
        ({"run_at": "tomorrow"}, "$.run_at", "ISO 8601"),
        ({"run_at": 10**13, "delay_s": 5}, "$.delay_s", "not both"),
        ({"delay_s": -1}, "$.delay_s", ">= 0"),
    ],
)
async def test_a_bad_start_time_is_a_422_naming_the_bound(
    gateway: TestClient, extra: dict[str, Any], pointer: str, words: str
) -> None:
    status, body = await _submit(gateway, "bad", **extra)
    assert status == 422, body
    assert body["errors"][0]["pointer"] == pointer
    assert words in body["errors"][0]["detail"], body
