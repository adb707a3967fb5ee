"""Limits per key and later start with real workers: counts that follow real runs, stages started at their time.

One gateway and one worker pool for the module, on the session's Redis, with two API keys: ``app-bob`` may run
one ``system.sleep`` at a time. Task ids are unique per test (the module's processes outlive each test).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import aiohttp
import pytest
import redis

from config import keys
from taskgate.embedded_redis import EmbeddedRedis
from tests.harness import Client, System

USER_KEY = "bob-secret"
ADMIN_KEY = "ops-secret"


def _env() -> dict[str, str]:
    def entry(name: str, key: str, scopes: list[str], limits: dict[str, object] | None) -> dict[str, object]:
        found = {"name": name, "key_sha256": hashlib.sha256(key.encode()).hexdigest(), "scopes": scopes}
        return found | ({"limits": limits} if limits else {})

    api_keys = [
        entry("app-bob", USER_KEY, ["user"], {"per_task": {"system.sleep": {"max_running": 1}}}),
        entry("ops", ADMIN_KEY, ["admin"], None),
    ]
    return {"TASKGATE_AUTH__API_KEYS": json.dumps(api_keys)}


@pytest.fixture(scope="module")
def live(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    system = System(redis_server.url, tmp_path_factory.mktemp("share"), tmp_path_factory.mktemp("logs"), _env())
    system.start_worker(queues=["system"])
    system.start_gateway()
    yield system
    system.stop()


@pytest.fixture
async def bob(live: System) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {USER_KEY}"}) as session:
        yield Client(session, live.base_url)


@pytest.fixture
def rclient(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


def _ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso).timestamp() * 1000)


async def test_a_delayed_task_shows_scheduled_then_runs_at_its_time(bob: Client) -> None:
    submitted = await bob.submit("system.ping", {}, task_id="e2e-delay", delay_s=2)
    stage = submitted["stages"]["system.ping"]
    assert submitted["status"] == stage["status"] == "SCHEDULED"
    record = await bob.wait("e2e-delay", timeout_s=30)
    ran = record["stages"]["system.ping"]
    assert ran["status"] == "SUCCESS", ran
    assert ran["attempts"] == 1
    assert _ms(ran["started_at"]) >= _ms(ran["run_at"])  # never early
    # run_at counts from when the gateway read the request, created_at from the write (milliseconds later)
    assert _ms(ran["run_at"]) >= _ms(submitted["created_at"]) + 1800
    assert _ms(ran["started_at"]) - _ms(ran["run_at"]) < 10_000  # about on time (a loaded machine is slower)


async def test_a_stage_waiting_on_a_scheduled_stage_starts_after_it(bob: Client) -> None:
    run_at = datetime.fromtimestamp(datetime.now(UTC).timestamp() + 1.5, tz=UTC).isoformat()  # ISO 8601, +00:00
    await bob.submit("system.sleep", {"seconds": 0.2}, task_id="e2e-after", run_at=run_at)
    await bob.submit("system.gpu_hold", {"seconds": "${{ stages.system.sleep.output.slept_s }}"}, task_id="e2e-after")
    record = await bob.wait("e2e-after", stage="system.gpu_hold", timeout_s=60)
    sleep, hold = record["stages"]["system.sleep"], record["stages"]["system.gpu_hold"]
    assert (sleep["status"], hold["status"]) == ("SUCCESS", "SUCCESS"), record
    assert _ms(sleep["started_at"]) >= _ms(sleep["run_at"])
    assert hold["started_at"] >= sleep["finished_at"]
    assert hold["attempts"] == 1


async def test_a_scheduled_task_survives_a_gateway_restart(live: System, bob: Client) -> None:
    await bob.submit("system.ping", {}, task_id="e2e-restart", delay_s=2)
    live.kill("gateway")
    live.start_gateway()
    record = await bob.wait("e2e-restart", timeout_s=30)
    assert record["status"] == "SUCCESS", record


async def test_max_running_refuses_while_one_runs_and_accepts_once_it_ends(bob: Client, rclient: redis.Redis) -> None:
    await bob.submit("system.sleep", {"seconds": 3}, task_id="e2e-run-1")
    await bob.wait("e2e-run-1", statuses={"RUNNING"}, timeout_s=30)
    status, body, headers = await bob.request(
        "POST", "/v1/tasks", json={"task_name": "system.sleep", "input_data": {"seconds": 0}, "task_id": "e2e-run-2"}
    )
    assert status == 429, body
    assert (body["limit"], body["value"], body["current"]) == ("per_task.system.sleep.max_running", 1, 1)
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert (await bob.submit("system.ping", {}, task_id="e2e-run-ping"))["status"] in ("PENDING", "RUNNING", "SUCCESS")

    await bob.wait("e2e-run-1", timeout_s=30)
    again = await bob.submit("system.sleep", {"seconds": 0}, task_id="e2e-run-2")
    assert again["task_id"] == "e2e-run-2"
    await bob.wait("e2e-run-2", timeout_s=30)
    await bob.wait("e2e-run-ping", timeout_s=30)
    # every stage has ended: nothing of bob's is counted queued or running any more
    for kind in ("queued", "running"):
        assert rclient.zcard(keys.key_count("app-bob", kind)) == 0, kind
        assert rclient.zcard(keys.key_count("app-bob", kind, "system.sleep")) == 0, kind
