"""API keys against a real gateway: the auth matrix, problem documents, open endpoints, no keys in logs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import aiohttp
import pytest

from tests.harness import Client, System

USER_KEY = "user-key-0123456789abcdef"
ADMIN_KEY = "admin-key-fedcba9876543210"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def keyed_env() -> dict[str, str]:
    keys = [
        {"name": "alice", "key_sha256": hash_key(USER_KEY), "scopes": ["user"]},
        {"name": "ops", "key_sha256": hash_key(ADMIN_KEY), "scopes": ["admin"]},
    ]
    return {"TASKGATE_AUTH__API_KEYS": json.dumps(keys)}


@pytest.fixture
def keyed_system(make_system: Callable[..., System]) -> System:
    system = make_system(keyed_env())
    system.start_gateway()
    return system


async def test_auth_matrix(keyed_system: System) -> None:
    (keyed_system.share_dir / "f.txt").write_text("x")
    cases = [
        # (method, path, key, expected status)
        ("GET", "/v1/tasks", None, 401),
        ("GET", "/v1/tasks", "wrong-key", 401),
        ("GET", "/v1/tasks", USER_KEY, 200),
        ("GET", "/v1/task-types", ADMIN_KEY, 200),
        ("GET", "/v1/files/f.txt", USER_KEY, 200),
        ("DELETE", "/v1/files/f.txt", None, 401),
        ("DELETE", "/v1/files/f.txt", USER_KEY, 403),
        ("DELETE", "/v1/files/f.txt", ADMIN_KEY, 204),
        ("GET", "/healthz", None, 200),
        ("GET", "/readyz", None, 200),
        ("GET", "/metrics", None, 200),
        ("GET", "/openapi.json", None, 200),
        ("GET", "/v1/no-such-route", None, 401),
    ]
    async with aiohttp.ClientSession() as session:
        client = Client(session, keyed_system.base_url)
        for method, path, key, expected in cases:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            status, body, resp_headers = await client.request(method, path, headers=headers)
            assert status == expected, (method, path, key, body)
            if status in (401, 403):
                assert resp_headers["Content-Type"].startswith("application/problem+json")
                assert body["status"] == status
                assert body["title"] in ("Unauthorized", "Forbidden")
            if status == 401:
                assert resp_headers["WWW-Authenticate"].startswith("Bearer")
        status, body, _ = await client.request("GET", "/v1/tasks", headers={"Authorization": USER_KEY})
        assert status == 401  # the Bearer scheme is required
    logs = keyed_system.logs("gateway")
    assert USER_KEY not in logs
    assert ADMIN_KEY not in logs
    assert "wrong-key" not in logs
    assert "request_refused" in logs


async def test_no_keys_on_loopback_is_open_and_quiet(make_system: Callable[..., System]) -> None:
    system = make_system()
    system.start_gateway()
    async with aiohttp.ClientSession() as session:
        status, _, _ = await Client(session, system.base_url).request("GET", "/v1/tasks")
    assert status == 200
    assert "auth_disabled_on_public_address" not in system.logs("gateway")


async def test_no_keys_on_a_public_bind_starts_with_a_loud_warning(make_system: Callable[..., System]) -> None:
    system = make_system({"TASKGATE_HOST": "0.0.0.0"})
    system.start_gateway()
    logs = system.logs("gateway")
    assert "auth_disabled_on_public_address" in logs
    assert "*** WARNING" in logs
