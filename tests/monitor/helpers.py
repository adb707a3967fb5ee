"""Settings and small helpers shared by the monitor tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp
import psutil

from tests.harness import Client, System, async_wait_until

# Seconds instead of hours: the tiers, heartbeats and passes of these tests.
SLEEP_TIERS = {"system.sleep": {"warning": 0.5, "soft_timeout": 1.0, "hard_timeout": 4.0}}


def fast_env(**extra: Any) -> dict[str, str]:
    """Return TASKGATE_* variables for a monitor that passes every 0.2 s with second-scale tiers."""
    env = {
        "TASKGATE_GPU_LOCK_MONITOR__MONITOR_INTERVAL": "0.2",
        "TASKGATE_GPU_LOCK_MONITOR__HEARTBEAT__INTERVAL": "0.2",
        "TASKGATE_GPU_LOCK_MONITOR__HEARTBEAT__TIMEOUT": "1.5",
        "TASKGATE_GPU_LOCK_MONITOR__TASK_TIMEOUT_LEVELS": json.dumps(SLEEP_TIERS),
    }
    env.update({f"TASKGATE_{k.upper()}": str(v) for k, v in extra.items()})
    return env


def process_gone(pid: int) -> bool:
    """Return whether ``pid`` no longer runs (a zombie counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def lock_state(client: Client) -> dict[str, Any]:
    """Return device 0 of ``GET /v1/monitor/gpu-locks``."""
    status, body, _ = await client.request("GET", "/v1/monitor/gpu-locks")
    assert status == 200, body
    return dict(body["devices"][0])


async def wait_holding(client: Client, task_id: str) -> dict[str, Any]:
    """Wait until ``task_id`` holds the GPU lease; return the holder."""

    async def holder() -> dict[str, Any] | None:
        device = await lock_state(client)
        return next((h for h in device["holders"] if h["task_id"] == task_id), None)

    found: dict[str, Any] = await async_wait_until(holder, timeout_s=30, what=f"{task_id} holding the lease")
    return found


async def events(client: Client, kind: str) -> list[dict[str, Any]]:
    """Return the monitor's recent events of one kind."""
    status, body, _ = await client.request("GET", "/v1/monitor/timeouts")
    assert status == 200, body
    return [e for e in body["events"] if e["kind"] == kind]


async def run_system(make_system: Callable[..., System], env: dict[str, str]) -> System:
    """Start a gateway (running the monitor) and one supervised worker."""
    system = make_system(env)
    system.start_worker()
    system.start_gateway()
    return system


def session() -> aiohttp.ClientSession:
    """Return an HTTP session for a test's client."""
    return aiohttp.ClientSession()
