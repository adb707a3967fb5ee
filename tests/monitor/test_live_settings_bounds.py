"""Live settings (``PUT /v1/monitor/config``): a stored bad value never stops a monitor pass, and a changed
``monitor_interval`` applies at once (the bounds themselves: ``tests/e2e/test_bad_input.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest
import redis

from config import keys
from taskgate.embedded_redis import EmbeddedRedis
from tests.harness import Client, System, async_wait_until
from tests.monitor.helpers import session

# The monitor in the gateway passes once at start, then waits an hour: only a change can bring the next pass.
HOURLY = {"TASKGATE_GPU_LOCK_MONITOR__MONITOR_INTERVAL": "3600"}


def _passes(admin: redis.Redis) -> int:
    return int(admin.hget(keys.MONITOR_STATS, "passes_total") or 0)


async def _more_passes(admin: redis.Redis, than: int, what: str) -> None:
    await async_wait_until(lambda: _count_above(admin, than + 3), timeout_s=20, interval_s=0.1, what=what)


async def _count_above(admin: redis.Redis, count: int) -> bool:
    return _passes(admin) >= count


@pytest.fixture(scope="module")
def live_gateway(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """One gateway (with its monitor, passing hourly) for the module."""
    system = System(redis_server.url, tmp_path_factory.mktemp("share"), tmp_path_factory.mktemp("logs"), HOURLY)
    system.start_gateway()
    yield system
    system.stop()


async def test_a_changed_monitor_interval_applies_at_once_and_a_bad_stored_value_never_stops_a_pass(
    live_gateway: System, redis_url: str
) -> None:
    admin = redis.Redis.from_url(redis_url)
    async with session() as http:
        client = Client(http, live_gateway.base_url)
        before = _passes(admin)
        status, body, _ = await client.request(
            "PUT", "/v1/monitor/config", json={"gpu_lock_monitor": {"monitor_interval": 0.2}}
        )
        assert status == 200, body
        # the hour already being waited is cut short: passes follow every 0.2 s
        await _more_passes(admin, before, "passes at the corrected interval")

        # A value stored by an older release, out of today's bounds: passes go on with the last good settings.
        stored = {"gpu_lock_monitor": {"monitor_interval": 0.2, "pending_timeout": 1e308}}
        admin.set(keys.CONFIG_OVERRIDES, msgspec.json.encode(stored))
        admin.incr(keys.CONFIG_VERSION)
        await client.submit("system.ping", {}, task_id="pending")  # the pending sweep has a stage to look at
        await _more_passes(admin, _passes(admin), "passes after a bad value was stored")
        status, body, _ = await client.request("GET", "/v1/monitor/config")
        assert status == 200, body
        assert body["gpu_lock_monitor"]["pending_timeout"] == 120.0
    admin.close()
    assert "live_settings_rejected" in live_gateway.logs("gateway")
    assert "monitor_pass_failed" not in live_gateway.logs("gateway")
