"""Cancelling a batch takes its owner's key or an admin's; pending items end CANCELLED and the batch completes."""

from __future__ import annotations

import json
from typing import Any

from tests.delivery.test_auth import ADMIN_KEY, USER_KEY, hash_key
from tests.harness import Client, async_wait_until

OTHER_KEY = "other-user-key-0123456789"
GATEWAY_ENV = {
    "TASKGATE_AUTH__API_KEYS": json.dumps(
        [
            {"name": "alice", "key_sha256": hash_key(USER_KEY), "scopes": ["user"]},
            {"name": "bob", "key_sha256": hash_key(OTHER_KEY), "scopes": ["user"]},
            {"name": "ops", "key_sha256": hash_key(ADMIN_KEY), "scopes": ["admin"]},
        ]
    )
}


def _as(key: str) -> dict[str, Any]:
    return {"headers": {"Authorization": f"Bearer {key}"}}


async def test_only_the_owner_or_an_admin_cancels_a_batch(gw: Client) -> None:
    body = {"task_name": "system.ping", "items": [{}] * 4, "batch_id": "owned"}
    status, created, _ = await gw.request("POST", "/v1/batches", json=body, **_as(USER_KEY))
    assert status == 201, created
    assert created["owner"] == "alice"

    status, refused, _ = await gw.request("POST", "/v1/batches/owned/cancel", **_as(OTHER_KEY))
    assert status == 403, refused
    assert "alice" in refused["detail"]
    status, _body, _ = await gw.request("POST", "/v1/batches/owned/cancel")
    assert status == 401
    status, cancelled, _ = await gw.request("POST", "/v1/batches/owned/cancel", **_as(USER_KEY))
    assert status == 202, cancelled

    async def completed() -> dict[str, Any] | None:
        status, batch, _ = await gw.request("GET", "/v1/batches/owned", **_as(OTHER_KEY))  # reading: any user key
        assert status == 200, batch
        return batch if batch["status"] == "COMPLETED" else None

    batch = await async_wait_until(completed, 30, 0.05, "the cancelled batch completed")
    assert batch["counts"]["CANCELLED"] == 4

    body = {**body, "batch_id": "ops-can"}
    status, created, _ = await gw.request("POST", "/v1/batches", json=body, **_as(USER_KEY))
    assert status == 201, created
    status, cancelled, _ = await gw.request("POST", "/v1/batches/ops-can/cancel", **_as(ADMIN_KEY))
    assert status == 202, cancelled
