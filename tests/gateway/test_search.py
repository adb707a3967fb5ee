"""Search (GET /v1/tasks by facets, cursor pages) and bulk actions by filter, in process on the real Redis.

No worker runs here: stages are ended through the state store's own transitions (the code a worker runs),
and a replay's queued message is read back from the Dramatiq queue it lands in.
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
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from config import keys, load_settings
from gateway.app import create_app
from state import StageError, StateStore, changes
from state.retention import AsyncRetention
from tests.harness import async_wait_until

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


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[StateStore]:
    client = aioredis.Redis.from_url(redis_url)
    yield StateStore(client, 3600)
    await client.aclose()


async def _submit(gateway: TestClient, task_id: str, headers: dict[str, str], **extra: Any) -> None:
    body = {"task_name": "system.ping", "task_id": task_id, "input_data": {}, **extra}
    resp = await gateway.post("/v1/tasks", json=body, headers=headers)
    assert resp.status == 202, await resp.text()
    await asyncio.sleep(0.003)  # the indexes' scores are ms: two submits in one ms would tie (broken by id)


async def _fail(store: StateStore, task_id: str, error_type: str = "ModelBroken") -> None:
    await store.update_stage(task_id, "system.ping", changes.start)
    await store.update_stage(
        task_id, "system.ping", lambda s: changes.fail(s, StageError(type=error_type, message="x"))
    )


async def _ids(gateway: TestClient, query: str, headers: dict[str, str] = USER) -> list[str]:
    resp = await gateway.get(f"/v1/tasks?{query}", headers=headers)
    assert resp.status == 200, await resp.text()
    return [t["task_id"] for t in (await resp.json())["tasks"]]


async def test_each_facet_selects_its_tasks_newest_first(gateway: TestClient, store: StateStore) -> None:
    await _submit(gateway, "b1", USER, labels={"show": "s01e01", "lang": "fr"})
    await _submit(gateway, "b2", USER, labels={"show": "s01e02", "lang": "fr"})
    await _submit(gateway, "a1", ADMIN, tenant="acme", labels={"show": "s01e02"})
    await _submit(gateway, "a2", ADMIN)
    await _fail(store, "b2", "ModelBroken")
    await _fail(store, "a2", "DiskFull")

    assert await _ids(gateway, "key=app-bob") == ["b2", "b1"]
    assert await _ids(gateway, "key=ops-alice") == ["a2", "a1"]
    assert await _ids(gateway, "tenant=acme") == ["a1"]
    assert await _ids(gateway, "label=show:s01e02") == ["a1", "b2"]
    assert await _ids(gateway, "label=show:s01e02&label=lang:fr") == ["b2"]
    assert await _ids(gateway, "status=FAILED") == ["a2", "b2"]
    assert await _ids(gateway, "status=FAILED&error_type=ModelBroken") == ["b2"]
    assert await _ids(gateway, "key=app-bob&status=PENDING") == ["b1"]
    assert await _ids(gateway, "task_name=system.ping&tenant=acme") == ["a1"]
    assert await _ids(gateway, "label=show:nope") == []

    record = await (await gateway.get("/v1/tasks/a1", headers=USER)).json()
    assert (record["key"], record["tenant"], record["labels"]) == ("ops-alice", "acme", {"show": "s01e02"})
    row = (await (await gateway.get("/v1/tasks?tenant=acme", headers=USER)).json())["tasks"][0]
    assert (row["key"], row["labels"]) == ("ops-alice", {"show": "s01e02"})


async def test_a_time_range_and_cursor_pages_cover_every_task_once(
    gateway: TestClient, store: StateStore, redis_url: str
) -> None:
    for n in range(7):
        await _submit(gateway, f"t{n}", USER, labels={"batch": "b"})
    scores = dict(redis.Redis.from_url(redis_url).zrange(keys.TASK_INDEX, 0, -1, withscores=True))
    middle = int(scores[b"t3"])

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = "label=batch:b&limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = await (await gateway.get(f"/v1/tasks?{query}", headers=USER)).json()
        seen += [t["task_id"] for t in page["tasks"]]
        cursor, pages = page["next_cursor"], pages + 1
        if cursor is None:
            break
    assert seen == [f"t{n}" for n in reversed(range(7))]
    assert pages == 3

    newest_first = [f"t{n}" for n in reversed(range(7))]
    since = [t for t in newest_first if scores[t.encode()] >= middle]
    assert await _ids(gateway, f"since={middle}") == since
    until = [t for t in newest_first if scores[t.encode()] <= middle]
    assert await _ids(gateway, f"until={middle}&key=app-bob") == until
    assert "t3" in since
    assert "t3" in until


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("label=show", "label must be name:value"),
        ("label=sh%20ow:x", "label 'sh ow:x'"),
        ("cursor=%%%", "cursor must be the next_cursor"),
        ("cursor=12-", "cursor must be the next_cursor"),
        ("cursor=", "cursor must be the next_cursor"),
        ("status=DONE", "status must be one of"),
        ("since=2026-12-05T10:00:00", "needs a time zone"),
        ("until=yesterday", "epoch milliseconds or an ISO 8601"),
        ("limit=0", "limit must be between"),
    ],
)
async def test_bad_search_queries_are_400_naming_the_parameter(gateway: TestClient, query: str, fragment: str) -> None:
    resp = await gateway.get(f"/v1/tasks?{query}", headers=USER)
    assert resp.status == 400
    assert resp.content_type == "application/problem+json"
    assert fragment in (await resp.json())["detail"]


async def test_a_user_key_may_not_set_a_tenant(gateway: TestClient) -> None:
    body = {"task_name": "system.ping", "input_data": {}, "tenant": "acme"}
    resp = await gateway.post("/v1/tasks", json=body, headers=USER)
    assert resp.status == 403
    assert "only an admin key may set tenant" in (await resp.json())["detail"]
    bad = await gateway.post("/v1/tasks", json={**body, "tenant": None, "labels": {"a:b": "x"}}, headers=USER)
    assert bad.status == 422


async def test_bulk_retry_replays_failed_tasks_keeping_their_history(
    gateway: TestClient, store: StateStore, redis_url: str
) -> None:
    for n in range(4):
        await _submit(gateway, f"r{n}", USER, labels={"run": "x"})
    for n in range(3):
        await _fail(store, f"r{n}")
    queue = keys.dramatiq_queue("system")
    sync = redis.Redis.from_url(redis_url)
    sync.delete(queue)  # the submits' messages: only the replays' are left to see

    dry = await gateway.post(
        "/v1/tasks/retry", json={"label": None, "labels": {"run": "x"}, "dry_run": True}, headers=ADMIN
    )
    assert dry.status == 422  # an unknown field is named, not ignored
    dry = await gateway.post("/v1/tasks/retry", json={"labels": {"run": "x"}, "dry_run": True}, headers=ADMIN)
    counted = await dry.json()
    assert (counted["matched"], counted["count"], counted["skipped"]) == (4, 3, 1)
    assert sorted(counted["sample"]) == ["r0", "r1", "r2"]
    assert sync.llen(queue) == 0
    assert (await (await gateway.get("/v1/tasks/r0", headers=USER)).json())["status"] == "FAILED"

    done = await (await gateway.post("/v1/tasks/retry", json={"labels": {"run": "x"}}, headers=ADMIN)).json()
    assert (done["count"], done["skipped"], done["dry_run"]) == (3, 1, False)
    assert sync.llen(queue) == 3
    record = await (await gateway.get("/v1/tasks/r0", headers=USER)).json()
    stage = record["stages"]["system.ping"]
    assert record["status"] == "PENDING"
    assert stage["attempts"] == 1
    assert stage["error"] is None
    assert stage["history"] == [
        {
            "attempt": 1,
            "status": "FAILED",
            "error": {"type": "ModelBroken", "message": "x"},
            "started_at": stage["history"][0]["started_at"],
            "finished_at": stage["history"][0]["finished_at"],
        }
    ]
    assert any(e["type"] == "replayed" for e in stage["events"])
    again = await (await gateway.post("/v1/tasks/retry", json={"labels": {"run": "x"}}, headers=ADMIN)).json()
    assert again["count"] == 0  # nothing failed any more


async def test_bulk_cancel_ends_queued_tasks_and_is_admin_only_and_audited(gateway: TestClient) -> None:
    for n in range(3):
        await _submit(gateway, f"c{n}", USER, labels={"cancel": "me"})
    await _submit(gateway, "keep", USER)

    refused = await gateway.post("/v1/tasks/cancel", json={"labels": {"cancel": "me"}}, headers=USER)
    assert refused.status == 403
    done = await (await gateway.post("/v1/tasks/cancel", json={"labels": {"cancel": "me"}}, headers=ADMIN)).json()
    assert (done["matched"], done["count"]) == (3, 3)
    assert await _ids(gateway, "status=CANCELLED") == ["c2", "c1", "c0"]
    assert await _ids(gateway, "status=PENDING") == ["keep"]

    audit = await (await gateway.get("/v1/audit?action=task.", headers=ADMIN)).json()
    assert [(e["action"], e["actor"], e["status"]) for e in audit["entries"]] == [
        ("task.bulk_cancel", "ops-alice", 200),
        ("task.bulk_cancel", "app-bob", 403),
    ]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({}, 422, "name at least one filter"),
        ({"dry_run": True}, 422, "name at least one filter"),
        ({"status": "DONE"}, 422, "status"),
        ({"since": "soon"}, 422, "$.since"),
        ({"labels": {"bad name": "x"}}, 422, "labels"),
    ],
)
async def test_bad_bulk_bodies_are_refused(
    gateway: TestClient, body: dict[str, Any], status: int, fragment: str
) -> None:
    resp = await gateway.post("/v1/tasks/retry", json=body, headers=ADMIN)
    assert resp.status == status
    assert fragment in (await resp.json())["detail"]


async def test_the_bulk_paths_are_not_task_ids(gateway: TestClient) -> None:
    taken = await gateway.post("/v1/tasks", json={"task_name": "system.ping", "task_id": "retry"}, headers=USER)
    assert taken.status == 422
    assert "reserved" in (await taken.json())["detail"]
    wrong = await gateway.get("/v1/tasks/cancel", headers=ADMIN)
    assert wrong.status == 405
    assert wrong.headers["Allow"] == "POST"


async def test_a_filter_matching_nothing_is_200_with_count_zero(gateway: TestClient) -> None:
    resp = await gateway.post("/v1/tasks/cancel", json={"tenant": "nobody"}, headers=ADMIN)
    assert resp.status == 200
    assert (await resp.json())["count"] == 0


async def test_purge_and_expiry_leave_no_facet_entries(gateway: TestClient, store: StateStore, redis_url: str) -> None:
    await _submit(gateway, "p1", USER, labels={"gone": "soon"})
    await _fail(store, "p1")
    sync = redis.Redis.from_url(redis_url)
    facet = keys.task_index_by_label("gone", "soon")
    assert sync.zscore(facet, "p1") is not None
    assert (await gateway.delete("/v1/tasks/p1?purge=true", headers=ADMIN)).status == 200
    assert sync.zcard(facet) == 0
    assert sync.zcard(keys.task_index_by_key("app-bob")) == 0

    # a facet no submit has written for the record TTL lists only expired workflows: the monitor drops it whole
    settings = load_settings({"TASKGATE_REDIS_URL": redis_url, "TASKGATE_STATE_TTL_S": "1"})
    retention = AsyncRetention(store.client)
    assert await retention.drop_idle_facets(settings) == 0  # written just now
    dropped = await async_wait_until(lambda: retention.drop_idle_facets(settings), 10, 0.1, "the idle facets")
    assert dropped == 2  # the label's and the key's
    assert not sync.exists(facet)
    assert sync.zcard(keys.FACETS) == 0
