"""Limits per API key: 429 with Retry-After and a problem naming the limit, counts that follow tasks, run-time changes.

In process, without workers: submitted stages stay queued, so the queued counts are exact. The running limit
and the counts' life through real runs are in tests/e2e/test_intake.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer

from config import keys, load_settings
from gateway.app import create_app

ADMIN = {"Authorization": "Bearer admin-secret"}
USER = {"Authorization": "Bearer user-secret"}
OTHER = {"Authorization": "Bearer other-secret"}
BOB_LIMITS = {"max_queued": 3, "per_task": {"ffmpeg.probe": {"max_queued": 0}}}


def _keys() -> str:
    def entry(name: str, key: str, scopes: list[str], limits: dict[str, Any] | None = None) -> dict[str, Any]:
        found = {"name": name, "key_sha256": hashlib.sha256(key.encode()).hexdigest(), "scopes": scopes}
        return found | ({"limits": limits} if limits else {})

    return json.dumps(
        [
            entry("ops-alice", "admin-secret", ["admin"]),
            entry("app-bob", "user-secret", ["user"], BOB_LIMITS),
            entry("app-carol", "other-secret", ["user"]),
        ]
    )


@pytest.fixture
async def gateway(redis_url: str, share_dir: Path) -> AsyncIterator[TestClient]:
    env = {
        "TASKGATE_REDIS_URL": redis_url,
        "TASKGATE_SHARE_DIR": str(share_dir),
        "TASKGATE_GPU_LOCK_MONITOR__ENABLED": "false",
        "TASKGATE_AUTH__API_KEYS": _keys(),
    }
    client = TestClient(TestServer(create_app(load_settings(env))))
    await client.start_server()
    yield client
    await client.close()


async def _submit(gateway: TestClient, task_id: str, headers: dict[str, str], **extra: Any) -> tuple[int, Any, Any]:
    body = {"task_name": "system.ping", "task_id": task_id, "input_data": {}, **extra}
    resp = await gateway.post("/v1/tasks", json=body, headers=headers)
    return resp.status, await resp.json(content_type=None), resp.headers


async def test_a_submit_past_max_queued_gets_429_naming_the_limit_then_is_accepted_once_one_is_cancelled(
    gateway: TestClient,
) -> None:
    for i in range(3):
        assert (await _submit(gateway, f"q{i}", USER))[0] == 202
    status, body, headers = await _submit(gateway, "q3", USER)
    assert status == 429, body
    assert headers["Content-Type"] == "application/problem+json"
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert body["type"] == "urn:taskgate:problem:limit-exceeded"
    assert (body["limit"], body["value"], body["current"]) == ("max_queued", 3, 3)
    assert "app-bob" in body["detail"]
    assert (await gateway.get("/v1/tasks/q3", headers=USER)).status == 404  # nothing was created
    # an identical resubmit of an accepted task is its idempotent answer, never throttled
    assert (await _submit(gateway, "q0", USER))[0] == 200
    # another key is not held back by bob's queue
    assert (await _submit(gateway, "c0", OTHER))[0] == 202

    assert (await gateway.delete("/v1/tasks/q1", headers=USER)).status == 200
    assert (await _submit(gateway, "q3", USER))[0] == 202
    assert (await _submit(gateway, "q4", USER))[0] == 429

    metrics = await (await gateway.get("/metrics")).text()
    assert 'taskgate_submits_throttled_total{key="app-bob",limit="max_queued"} 2.0' in metrics


async def test_a_refusal_is_a_throttle_event_for_admin_keys(gateway: TestClient, redis_client: redis.Redis) -> None:
    await gateway.put("/v1/keys/app-bob/limits", json={"max_queued": 0}, headers=ADMIN)
    assert (await _submit(gateway, "t0", USER))[0] == 429
    events = [e for _, e in redis_client.xrange(keys.EVENTS) if e[b"type"] == b"throttle"]
    assert [{k.decode(): v.decode() for k, v in e.items()} for e in events] == [
        {
            "type": "throttle",
            "key": "app-bob",
            "workflow_id": "t0",
            "task_name": "system.ping",
            "limit": "max_queued",
            "value": "0",
            "current": "0",
        }
    ]
    refused = await gateway.get("/v1/events?type=throttle", headers=USER)
    assert refused.status == 403  # another key's throttling is for admins


async def test_a_per_task_limit_refuses_only_that_task(gateway: TestClient) -> None:
    body = {"task_name": "ffmpeg.probe", "task_id": "probe", "input_data": {"media_path": "https://example.com/a"}}
    resp = await gateway.post("/v1/tasks", json=body, headers=USER)
    problem = await resp.json(content_type=None)
    assert resp.status == 429, problem
    assert (problem["limit"], problem["value"], problem["current"]) == ("per_task.ffmpeg.probe.max_queued", 0, 0)
    assert (await _submit(gateway, "ping", USER))[0] == 202


async def test_a_burst_of_concurrent_submits_never_passes_max_queued(
    gateway: TestClient, redis_client: redis.Redis
) -> None:
    replies = await asyncio.gather(*(_submit(gateway, f"burst{i}", USER) for i in range(50)))
    statuses = sorted(status for status, _, _ in replies)
    assert statuses == [202] * 3 + [429] * 47
    assert redis_client.zcard(keys.key_count("app-bob", "queued")) == 3
    listed = await (await gateway.get("/v1/tasks?limit=100", headers=ADMIN)).json()
    assert len(listed["tasks"]) == 3


async def test_submits_per_minute_answer_when_the_window_frees_and_accept_again_once_it_rolls(
    gateway: TestClient, redis_client: redis.Redis
) -> None:
    put = await gateway.put("/v1/keys/app-carol/limits", json={"submits_per_minute": 2}, headers=ADMIN)
    assert put.status == 200, await put.text()
    for i in range(2):
        assert (await _submit(gateway, f"r{i}", OTHER))[0] == 202
    status, body, headers = await _submit(gateway, "r2", OTHER)
    assert status == 429, body
    assert (body["limit"], body["value"], body["current"]) == ("submits_per_minute", 2, 2)
    assert 55 <= int(headers["Retry-After"]) <= 60  # the oldest submit leaves the window a minute after it came

    # The minute rolls: the window's entries are made 61 s old (what the clock would do), and a submit passes.
    window = keys.key_count("app-carol", "submits")
    aged = {member: score - 61_000 for member, score in redis_client.zrange(window, 0, -1, withscores=True)}
    redis_client.zadd(window, aged)
    assert (await _submit(gateway, "r2", OTHER))[0] == 202


async def test_limits_changed_at_run_time_apply_to_the_next_submit_and_are_audited(gateway: TestClient) -> None:
    assert (await _submit(gateway, "a0", USER))[0] == 202
    put = await gateway.put("/v1/keys/app-bob/limits", json={"max_queued": 1}, headers=ADMIN)
    view = await put.json()
    assert put.status == 200, view
    assert view["limits"] == {"max_queued": 1}
    assert view["limits_source"] == "runtime"
    assert view["counts"]["queued"] == 1
    assert (await _submit(gateway, "a1", USER))[0] == 429

    reset = await gateway.delete("/v1/keys/app-bob/limits", headers=ADMIN)
    assert (await reset.json())["limits_source"] == "settings"
    assert (await _submit(gateway, "a1", USER))[0] == 202

    listed = await (await gateway.get("/v1/keys", headers=ADMIN)).json()
    bob = next(k for k in listed["keys"] if k["name"] == "app-bob")
    assert bob["limits"] == BOB_LIMITS
    assert bob["counts"]["per_task"] == {"system.ping": {"queued": 2, "running": 0}}
    audit = await (await gateway.get("/v1/audit?action=key.", headers=ADMIN)).json()
    assert [(e["action"], e["actor"], e["target"]) for e in audit["entries"]] == [
        ("key.limits.reset", "ops-alice", {"name": "app-bob"}),
        ("key.limits.update", "ops-alice", {"name": "app-bob"}),
    ]


async def test_bad_limit_changes_are_refused_clearly(gateway: TestClient) -> None:
    bad = await gateway.put("/v1/keys/app-bob/limits", json={"max_queued": -1}, headers=ADMIN)
    assert bad.status == 422
    assert (await bad.json())["errors"][0]["pointer"] == "$.max_queued"
    typo = await gateway.put("/v1/keys/app-bob/limits", json={"per_task": {"system.pong": {}}}, headers=ADMIN)
    problem = await typo.json()
    assert typo.status == 422, problem
    assert problem["errors"][0]["pointer"] == "$.per_task.system.pong"
    assert "did you mean 'system.ping'" in problem["errors"][0]["detail"]
    unknown = await gateway.put("/v1/keys/nobody/limits", json={}, headers=ADMIN)
    assert unknown.status == 404
    assert "nobody" in (await unknown.json())["detail"]
    assert (await gateway.put("/v1/keys/app-bob/limits", json={}, headers=USER)).status == 403
