"""Live settings (``PUT /v1/monitor/config``): every value bounded, a stored bad value never stops a monitor pass,
and a changed ``monitor_interval`` applies at once.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

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


@pytest.mark.parametrize(
    ("patch", "pointer"),
    [
        ({"gpu_lock_monitor": {"pending_timeout": 1e308}}, "$.gpu_lock_monitor.pending_timeout"),
        ({"gpu_lock_monitor": {"pending_timeout": 1e-323}}, "$.gpu_lock_monitor.pending_timeout"),
        ({"gpu_lock": {"devices": [-1482307091583]}}, "$.gpu_lock.devices[0]"),
        ({"gpu_lock": {"devices": [0, 1024]}}, "$.gpu_lock.devices[1]"),
        ({"gpu_lock_monitor": {"monitor_interval": 1e308}}, "$.gpu_lock_monitor.monitor_interval"),
        ({"gpu_lock": {"lease_ttl": 1e-323}}, "$.gpu_lock.lease_ttl"),
    ],
)
def test_out_of_bounds_live_settings_are_refused_naming_the_field(
    patch: dict[str, Any], pointer: str, live_gateway: System
) -> None:
    request = urllib.request.Request(  # noqa: S310  (the test's own gateway)
        f"{live_gateway.base_url}/v1/monitor/config", data=msgspec.json.encode(patch), method="PUT"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    body = msgspec.json.decode(refused.value.read())
    assert refused.value.code == 422, body
    assert body["errors"][0]["pointer"] == pointer


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
