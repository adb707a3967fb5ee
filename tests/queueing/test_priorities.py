"""Priorities, fairness, pause and drain on a real gateway and one single-thread worker of the system queue.

One system for the module (Redis is not flushed between its tests: each uses its own task ids and leaves the
queue empty). Keys: ``ops`` (admin), ``alpha`` and ``beta`` (user keys, weight 1).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
import redis

from taskgate.embedded_redis import EmbeddedRedis
from tests.harness import ROOT, Client, System, async_wait_until

KEYS = {"ops": ("ops-key-0123456789", "admin"), "alpha": ("alpha-key-0123456789", "user")}
KEYS["beta"] = ("beta-key-0123456789", "user")


def _env() -> dict[str, str]:
    entries = [
        {"name": name, "key_sha256": hashlib.sha256(key.encode()).hexdigest(), "scopes": [scope]}
        for name, (key, scope) in KEYS.items()
    ]
    return {"TASKGATE_AUTH__API_KEYS": json.dumps(entries)}


@pytest.fixture(scope="module")
def flow_system(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """A gateway and one worker process with one thread on the system queue: one task runs at a time."""
    system = System(redis_server.url, tmp_path_factory.mktemp("share"), tmp_path_factory.mktemp("logs"), _env())
    system.start_worker(queues=["system"], processes=1, threads=1)
    system.start_gateway()
    yield system
    system.stop()


@pytest.fixture
async def clients(flow_system: System) -> AsyncIterator[dict[str, Client]]:
    """A client per key, once the worker serves the system queue."""
    sessions = {
        name: aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) for name, (key, _) in KEYS.items()
    }
    try:
        made = {name: Client(session, flow_system.base_url) for name, session in sessions.items()}

        async def serving() -> bool:
            _, body, _ = await made["ops"].request("GET", "/v1/task-types")
            return any(t["task_name"] == "system.sleep" and t["worker_alive"] for t in body["task_types"])

        await async_wait_until(serving, 60, 0.1, "a live worker on the system queue")
        yield made
    finally:
        for session in sessions.values():
            await session.close()


async def _submit_many(client: Client, bodies: list[dict[str, Any]]) -> None:
    """Submit ``bodies`` in order (one at a time: the order is what the test is about)."""
    for body in bodies:
        status, answer, _ = await client.request("POST", "/v1/tasks", json=body)
        assert status == 202, answer


def _sleep(task_id: str, seconds: float = 0.0, **extra: Any) -> dict[str, Any]:
    return {"task_name": "system.sleep", "input_data": {"seconds": seconds}, "task_id": task_id, **extra}


async def _started(client: Client, ids: list[str], timeout_s: float = 120.0) -> list[str]:
    """Wait until every task of ``ids`` has ended; return them in the order they started."""
    records = [await client.wait(task_id, timeout_s=timeout_s) for task_id in ids]
    assert all(r["status"] == "SUCCESS" for r in records), [r for r in records if r["status"] != "SUCCESS"][:1]
    return [r["task_id"] for r in sorted(records, key=lambda r: r["stages"]["system.sleep"]["started_at"])]


async def _queue(client: Client, name: str = "system") -> dict[str, Any]:
    status, body, _ = await client.request("GET", "/v1/queues")
    assert status == 200, body
    return next(q for q in body["queues"] if q["queue"] == name)


async def _stays_pending(client: Client, ids: list[str], for_s: float) -> None:
    """Check, polling for ``for_s`` seconds, that none of ``ids`` leaves PENDING."""
    deadline = time.monotonic() + for_s
    while time.monotonic() < deadline:
        for task_id in ids:
            assert (await client.task(task_id))["status"] == "PENDING", task_id
        await asyncio.sleep(0.1)


async def test_a_high_task_behind_200_normal_ones_starts_next(clients: dict[str, Client]) -> None:
    ops = clients["ops"]
    await ops.submit("system.sleep", {"seconds": 60}, task_id="prio-blocker")
    await ops.wait("prio-blocker", statuses={"RUNNING"})
    normal = [f"prio-normal-{i}" for i in range(200)]
    await _submit_many(ops, [_sleep(task_id) for task_id in normal])
    await _submit_many(ops, [_sleep("prio-high", priority="high")])
    queue = await _queue(ops)
    assert queue["queued_by_priority"]["normal"] == 200
    assert queue["queued_by_priority"]["high"] == 1
    status, _, _ = await ops.request("DELETE", "/v1/tasks/prio-blocker")
    assert status in (200, 202)
    order = await _started(ops, ["prio-high", *normal])
    assert order[0] == "prio-high"
    assert order[1:] == normal  # one client, one band: first in, first out
    record = await ops.task("prio-high")
    assert record["stages"]["system.sleep"]["priority"] == "high"
    assert record["key"] == "ops"


async def test_a_burst_of_one_key_does_not_block_another(clients: dict[str, Client]) -> None:
    ops, alpha, beta = clients["ops"], clients["alpha"], clients["beta"]
    status, _, _ = await ops.request("POST", "/v1/queues/system/pause")
    assert status == 200
    first = [f"fair-a-{i}" for i in range(100)]
    second = [f"fair-b-{i}" for i in range(5)]
    await _submit_many(alpha, [_sleep(task_id) for task_id in first])
    await _submit_many(beta, [_sleep(task_id) for task_id in second])
    queue = await _queue(ops)
    assert queue["queued_by_client"]["normal"] == {"alpha": 100, "beta": 5}
    status, _, _ = await ops.request("POST", "/v1/queues/system/resume")
    assert status == 200
    order = await _started(ops, first + second)
    assert set(second) <= set(order[:10]), order[:12]
    assert order[0] == "fair-a-0"  # alpha's lane was first in the rotation


async def test_nothing_starts_while_a_queue_is_paused_and_all_start_after_resume(
    clients: dict[str, Client], redis_client: redis.Redis
) -> None:
    ops = clients["ops"]
    status, body, _ = await ops.request("POST", "/v1/queues/system/pause")
    assert status == 200
    assert body["paused"]
    assert body["paused_since"]["by"] == "ops"
    ids = [f"paused-{i}" for i in range(5)]
    await _submit_many(clients["alpha"], [_sleep(task_id, priority="low") for task_id in ids])  # accepted
    await _stays_pending(ops, ids, 2.0)
    queue = await _queue(ops)
    assert queue["paused"]
    assert queue["queued_by_priority"]["low"] == 5
    status, body, _ = await ops.request("POST", "/v1/queues/system/resume")
    assert status == 200
    assert not body["paused"]
    await _started(ops, ids, timeout_s=60)
    events = [e[1] for e in redis_client.xrange("taskgate:events", "-", "+") if e[1].get(b"type") == b"queue"]
    assert [e[b"action"] for e in events][-2:] == [b"paused", b"resumed"]
    _, audit, _ = await ops.request("GET", "/v1/audit?action=queue.")
    assert {e["action"] for e in audit["entries"]} == {"queue.pause", "queue.resume"}


async def test_a_drained_host_finishes_its_run_and_takes_nothing_new(clients: dict[str, Client]) -> None:
    ops, host = clients["ops"], socket.gethostname()
    await ops.submit("system.sleep", {"seconds": 1.5}, task_id="drain-running")
    await ops.wait("drain-running", statuses={"RUNNING"})
    status, body, _ = await ops.request("POST", f"/v1/workers/{host}/drain")
    assert status == 200, body
    assert body["drained"]
    await ops.submit("system.sleep", {"seconds": 0}, task_id="drain-next")
    assert (await ops.wait("drain-running"))["status"] == "SUCCESS"
    await _stays_pending(ops, ["drain-next"], 1.5)
    _, workers, _ = await ops.request("GET", "/v1/monitor/workers")
    assert all(w["drained"] for w in workers["workers"] if w["host"] == host)
    status, body, _ = await ops.request("POST", f"/v1/workers/{host}/undrain")
    assert status == 200
    assert not body["drained"]
    assert (await ops.wait("drain-next", timeout_s=60))["status"] == "SUCCESS"


async def test_bad_priority_tenant_queue_and_host_are_refused_clearly(clients: dict[str, Client]) -> None:
    ops, alpha = clients["ops"], clients["alpha"]
    status, body, headers = await alpha.request("POST", "/v1/tasks", json=_sleep("bad-prio", priority="urgent"))
    assert status == 422
    assert headers["Content-Type"].startswith("application/problem+json")
    assert "high, normal, low" in body["detail"]
    assert body["errors"][0]["pointer"] == "$.priority"
    status, body, _ = await alpha.request("POST", "/v1/tasks", json=_sleep("bad-tenant", tenant="acme"))
    assert status == 403
    assert "tenant" in body["detail"]
    status, body, _ = await ops.request("POST", "/v1/queues/no-such-queue/pause")
    assert status == 404
    assert "system" in body["detail"]
    status, body, _ = await ops.request("POST", "/v1/workers/no-such-host/drain")
    assert status == 404
    assert "no-such-host" in body["detail"]
    status, body, _ = await alpha.request("POST", "/v1/queues/system/pause")
    assert status == 403
    record = await ops.submit("system.sleep", {"seconds": 0}, task_id="tenant-ok", tenant="acme")
    assert record["tenant"] == "acme"
    assert (await ops.wait("tenant-ok"))["status"] == "SUCCESS"


def _cli(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKGATE_")}
    env |= {"TASKGATE_URL": system.base_url, "TASKGATE_API_KEY": KEYS["ops"][0], "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "taskgate", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False)


async def test_the_cli_pauses_shows_and_resumes_a_queue(flow_system: System, clients: dict[str, Client]) -> None:
    paused = await asyncio.to_thread(_cli, flow_system, "pause", "system")
    assert paused.returncode == 0, paused.stderr
    assert "queue system: paused" in paused.stdout
    submitted = await asyncio.to_thread(
        _cli, flow_system, "submit", "system.sleep", "seconds=0", "--priority", "low", "--task-id", "cli-low"
    )
    assert submitted.returncode == 0, submitted.stderr
    shown = await asyncio.to_thread(_cli, flow_system, "queues", "--json")
    system_queue = next(q for q in json.loads(shown.stdout)["queues"] if q["queue"] == "system")
    assert system_queue["paused"]
    assert system_queue["queued_by_priority"]["low"] == 1
    resumed = await asyncio.to_thread(_cli, flow_system, "resume", "system")
    assert resumed.returncode == 0, resumed.stderr
    record = await clients["ops"].wait("cli-low", timeout_s=60)
    assert record["status"] == "SUCCESS"
    assert record["stages"]["system.sleep"]["priority"] == "low"


async def test_the_default_priority_changes_at_run_time(clients: dict[str, Client]) -> None:
    ops = clients["ops"]
    status, body, _ = await ops.request("PUT", "/v1/monitor/config", json={"queueing": {"default_priority": "low"}})
    assert status == 200, body
    assert body["queueing"]["default_priority"] == "low"
    try:
        record = await ops.submit("system.sleep", {"seconds": 0}, task_id="live-default")
        assert record["stages"]["system.sleep"]["priority"] == "low"
        bad = {"queueing": {"task_priority": {"no.such_task": "high"}}}
        status, body, _ = await ops.request("PUT", "/v1/monitor/config", json=bad)
        assert status == 422, body
    finally:
        await ops.request("PUT", "/v1/monitor/config", json={"queueing": {"default_priority": "normal"}})
    assert (await ops.wait("live-default"))["status"] == "SUCCESS"
