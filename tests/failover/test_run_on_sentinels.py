"""``taskgate run`` (``make run``) on Redis Sentinel: no embedded Redis, every part on the sentinels' primary."""

from __future__ import annotations

import signal
from pathlib import Path

import aiohttp
import pytest
import redis

from config import keys
from tests.e2e.launch import Launch
from tests.failover.sentinels import SentinelSet
from tests.harness import Client

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


async def test_taskgate_run_on_sentinels_starts_no_redis_of_its_own(sentinel_set: SentinelSet, tmp_path: Path) -> None:
    launch = Launch(
        tmp_path / "data",
        tmp_path / "share",
        tmp_path / "run.log",
        {"TASKGATE_REDIS_SENTINELS": sentinel_set.sentinels},
    )
    try:
        launch.start()
        assert not [p for p in launch.descendants() if "redis-server" in p.name()]
        async with aiohttp.ClientSession() as session:
            client = Client(session, launch.base_url)
            task = await client.submit("system.ping", {}, task_id="on-sentinels")
            assert (await client.wait(task["task_id"], 30))["status"] == "SUCCESS"
        with redis.Redis(port=sentinel_set.ports["primary"]) as primary:
            assert primary.exists(keys.workflow_state("on-sentinels"))
    finally:
        if launch.proc is not None and launch.proc.poll() is None:
            launch.signal(signal.SIGTERM)
            launch.wait(60)
