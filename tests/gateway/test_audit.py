"""The audit log: admin actions recorded with who, what, when, where and the request id; listed and paged."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer

from config import keys, load_settings
from gateway.app import create_app

ADMIN = {"Authorization": "Bearer admin-secret"}
USER = {"Authorization": "Bearer user-secret"}


def _keys() -> str:
    def entry(name: str, key: str, scopes: list[str]) -> dict[str, object]:
        return {"name": name, "key_sha256": hashlib.sha256(key.encode()).hexdigest(), "scopes": scopes}

    return json.dumps([entry("ops-alice", "admin-secret", ["admin"]), entry("app-bob", "user-secret", ["user"])])


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


async def _submit(gateway: TestClient, task_id: str) -> None:
    body = {"task_name": "system.ping", "task_id": task_id, "input_data": {}}
    assert (await gateway.post("/v1/tasks", json=body, headers=USER)).status == 202


async def test_a_cancel_and_a_config_change_are_recorded_with_who_what_and_the_request_id(gateway: TestClient) -> None:
    await _submit(gateway, "audit-1")
    before_ms = int(time.time() * 1000)
    cancel = await gateway.delete("/v1/tasks/audit-1", headers={**USER, "X-Request-Id": "req-42"})
    assert cancel.status == 200
    assert cancel.headers["X-Request-Id"] == "req-42"
    patch = {"gpu_lock_monitor": {"monitor_interval": 2}}
    changed = await gateway.put("/v1/monitor/config", json=patch, headers=ADMIN)
    assert changed.status == 200
    assert len(changed.headers["X-Request-Id"]) == 32  # none was sent: the gateway made one

    page = await (await gateway.get("/v1/audit", headers=ADMIN)).json()
    config, cancelled = page["entries"]  # newest first; the submit and the reads are not admin actions
    assert config["action"] == "config.update"
    assert config["actor"] == "ops-alice"
    assert config["request_id"] == changed.headers["X-Request-Id"]
    assert cancelled | {"id": None, "at_ms": None} == {
        "id": None,
        "at_ms": None,
        "action": "task.cancel",
        "actor": "app-bob",
        "remote": "127.0.0.1",
        "request_id": "req-42",
        "method": "DELETE",
        "path": "/v1/tasks/audit-1",
        "status": 200,
        "target": {"task_id": "audit-1"},
    }
    assert before_ms <= cancelled["at_ms"] <= config["at_ms"] <= int(time.time() * 1000)
    assert page["next_cursor"] is None


async def test_refused_and_failed_actions_are_recorded_with_their_status(gateway: TestClient) -> None:
    # a user key may not release a lease (403), an anonymous caller is refused (401), a purge of an unknown task 404
    assert (
        await gateway.post("/v1/monitor/gpu-locks/0/release", json={"fencing_token": 1}, headers=USER)
    ).status == 403
    assert (await gateway.delete("/v1/files/a.txt")).status == 401
    assert (await gateway.delete("/v1/tasks/nope?purge=true", headers=ADMIN)).status == 404

    entries = (await (await gateway.get("/v1/audit", headers=ADMIN)).json())["entries"]
    seen = [(e["action"], e["actor"], e["status"]) for e in entries]
    assert seen == [
        ("task.purge", "ops-alice", 404),
        ("file.delete", "unauthenticated", 401),
        ("lease.release", "app-bob", 403),
    ]


async def test_filters_and_cursor_pages(gateway: TestClient) -> None:
    for i in range(5):
        await _submit(gateway, f"page-{i}")
        assert (await gateway.delete(f"/v1/tasks/page-{i}", headers=ADMIN)).status == 200
    assert (await gateway.put("/v1/monitor/config", json={}, headers=ADMIN)).status == 200

    only_cancels = await (await gateway.get("/v1/audit?action=task.cancel&limit=2", headers=ADMIN)).json()
    assert [e["target"]["task_id"] for e in only_cancels["entries"]] == ["page-4", "page-3"]
    cursor = only_cancels["next_cursor"]
    rest = await (await gateway.get(f"/v1/audit?action=task.&cursor={cursor}", headers=ADMIN)).json()
    assert [e["target"]["task_id"] for e in rest["entries"]] == ["page-2", "page-1", "page-0"]
    assert rest["next_cursor"] is None

    by_actor = await (await gateway.get("/v1/audit?actor=app-bob", headers=ADMIN)).json()
    assert by_actor["entries"] == []
    future = await (await gateway.get("/v1/audit?since=2999-01-01T00:00:00Z", headers=ADMIN)).json()
    assert future["entries"] == []


async def test_bad_queries_are_400_and_the_log_is_admin_only(gateway: TestClient) -> None:
    for query in ("limit=0", "limit=x", "since=yesterday", "since=2026-01-01T00:00:00", "cursor=abc"):
        resp = await gateway.get(f"/v1/audit?{query}", headers=ADMIN)
        assert resp.status == 400, query
        assert resp.content_type == "application/problem+json"
    assert (await gateway.get("/v1/audit", headers=USER)).status == 403


async def test_entries_older_than_the_retention_are_trimmed(gateway: TestClient, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    old_ms = int(time.time() * 1000) - 91 * 24 * 3600 * 1000  # older than the default 90 days
    client.xadd(keys.AUDIT, {"action": "task.cancel", "actor": "old"}, id=f"{old_ms}-0")
    assert (await gateway.put("/v1/monitor/config", json={}, headers=ADMIN)).status == 200
    remaining = client.xrange(keys.AUDIT)
    client.close()
    assert [fields[b"action"] for _id, fields in remaining] == [b"config.update"]  # exact MINID: admin actions are few


async def test_a_cursor_at_the_first_possible_id_is_an_empty_page(gateway: TestClient) -> None:
    assert (await gateway.put("/v1/monitor/config", json={}, headers=ADMIN)).status == 200
    page = await (await gateway.get("/v1/audit?since=0&cursor=0-0", headers=ADMIN)).json()
    assert page == {"entries": [], "next_cursor": None}
