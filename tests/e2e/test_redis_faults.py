"""Redis failing under the workers: refused connections at task start, an outage mid-run, a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import redis

from taskgate.embedded_redis import EmbeddedRedis
from tests.e2e.figures import report, settle
from tests.harness import Client, System, wait_until
from tests.monitor.helpers import fast_env, session

# How long Redis stays down mid-run: longer than the heartbeat timeout (1.5 s in fast_env), shorter than
# the grace. The fault's length, not a wait for something.
OUTAGE_S = 3.0


def _steady_clients(admin: redis.Redis) -> int:
    """Return the connected client count once three samples in a row agree (every pool has connected)."""
    samples: list[int] = []

    def steady() -> bool:
        samples.append(int(admin.info("clients")["connected_clients"]))
        return len(samples) >= 3 and len(set(samples[-3:])) == 1

    wait_until(steady, timeout_s=30, interval_s=0.3, what="a steady client count")
    return samples[-1]


async def test_refused_connections_at_task_start_leave_no_stage_pending(
    make_system: Callable[..., System], tmp_path: Path
) -> None:
    own = EmbeddedRedis(tmp_path / "redis", persist=False)
    own.start()
    admin = redis.Redis.from_url(own.url)
    system = make_system(fast_env(redis_grace_s=1.5), url=own.url)
    system.start_worker(threads=2)
    system.start_gateway()
    try:
        async with session() as http:
            client = Client(http, system.base_url)
            await client.request("GET", "/v1/tasks/warm-up")  # the gateway keeps a connection for the submits
            wait_until(lambda: "ready for action" in system.logs("worker"), timeout_s=30, what="worker up")
            admin.config_set("maxclients", _steady_clients(admin))  # every new connection is refused now
            ids = [f"refused-{i}" for i in range(6)]
            for task_id in ids:
                await client.submit("system.ping", {}, task_id=task_id)

            def held_long_enough() -> bool:
                # A start rode out the grace and sent its message again (or, the bug, a start hook failed and
                # Dramatiq ran the actor outside the lifecycle: that message is acked once Redis lets it).
                logs = system.logs("worker")
                return "stage_start_deferred" in logs or "Unexpected failure in before_process_message" in logs

            wait_until(held_long_enough, timeout_s=30, what="the refusal outlasting the start's grace")
            admin.config_set("maxclients", 10000)
            records, recover_s = await settle(client, ids, timeout_s=30)
    finally:
        admin.close()
        own.stop()
    report("maxclients_at_start", len(ids), records, recover_s, "from maxclients restored to every ping terminal")
    assert {r["status"] for r in records.values()} == {"SUCCESS"}
    assert "redis_unreachable" in system.logs("worker")


async def test_stages_ride_out_a_redis_outage_and_a_restart_leaves_no_stale_connection_failure(
    make_system: Callable[..., System], tmp_path: Path
) -> None:
    own = EmbeddedRedis(tmp_path / "redis", persist=True)  # saved on stop, loaded on start
    own.start()
    system = make_system(fast_env(redis_grace_s=30, gpu_lock_monitor__task_timeout_levels="{}"), url=own.url)
    system.start_worker(threads=3)
    system.start_gateway()
    try:
        async with session() as http:
            client = Client(http, system.base_url)
            running = [f"outage-{i}" for i in range(3)]  # the last one ends while Redis is away
            for i, task_id in enumerate(running):
                await client.submit("system.sleep", {"seconds": 2 if i == 2 else 5}, task_id=task_id)
            for task_id in running:
                await client.wait(task_id, statuses={"RUNNING"}, timeout_s=30)
            # A stage waiting for the short one cycles through the delay queue, held in worker memory.
            waiting = {"seconds": "${{ stages.system.sleep.output.slept_s }}"}
            await client.submit("system.gpu_hold", waiting, task_id="outage-2")
            own.stop()
            await asyncio.sleep(OUTAGE_S)
            own.start()
            restarted, restarted_wall = time.monotonic(), datetime.now(UTC)
            records, _ = await settle(client, running, timeout_s=60)
            first_recover_s = time.monotonic() - restarted

            own.stop()  # a restart with nothing running: every pooled connection of every process is now stale
            own.start()
            after = [f"after-restart-{i}" for i in range(12)]
            for i, task_id in enumerate(after):
                task = ("system.gpu_hold", {"seconds": 0.2}) if i % 4 == 0 else ("system.sleep", {"seconds": 0.3})
                await client.submit(*task, task_id=task_id)
            later, second_recover_s = await settle(client, after, timeout_s=60)
    finally:
        own.stop()
    report("redis_outage_mid_run", len(running), records, first_recover_s, "from Redis back to every stage terminal")
    for record in records.values():
        stage = record["stages"]["system.sleep"]
        assert (stage["status"], stage["attempts"], stage["error"]) == ("SUCCESS", 1, None), stage
        assert stage["output"]["slept_s"] >= stage["input_data"]["seconds"]
        assert not [e for e in stage["events"] if e["type"] in ("requeued", "retry")], stage["events"]
    assert records["outage-2"]["stages"]["system.gpu_hold"]["status"] == "SUCCESS", records["outage-2"]
    # it ended while Redis was away: its finished_at says when the work ended, not when Redis took the end
    ended = records["outage-2"]["stages"]["system.sleep"]
    assert datetime.fromisoformat(ended["finished_at"].replace("Z", "+00:00")) < restarted_wall, ended
    assert ended["duration_s"] < ended["output"]["slept_s"] + OUTAGE_S / 3, ended
    report("redis_restart", len(after), later, second_recover_s, "from the first submit after restart to all terminal")
    assert {r["status"] for r in later.values()} == {"SUCCESS"}, {t: r["error"] for t, r in later.items()}
    assert "is gone" not in system.logs("gateway")  # no live worker declared dead


async def test_a_record_gone_while_its_stage_ran_ends_with_a_warning_not_a_traceback(
    make_system: Callable[..., System], tmp_path: Path
) -> None:
    own = EmbeddedRedis(tmp_path / "redis", persist=False)  # a restart comes back empty (no AOF)
    own.start()
    system = make_system(fast_env(gpu_lock_monitor__task_timeout_levels="{}"), url=own.url)
    system.start_worker()
    system.start_gateway()
    try:
        async with session() as http:
            client = Client(http, system.base_url)
            await client.submit("system.sleep", {"seconds": 2}, task_id="vanishing")
            await client.wait("vanishing", statuses={"RUNNING"}, timeout_s=30)
            own.stop()
            own.start()
            ended = ("stage_end_record_gone", "TaskNotFound")  # the fix's warning, or the traceback it replaced
            wait_until(lambda: any(s in system.logs("worker") for s in ended), 30, 0.1, "the stage's end")
            await client.submit("system.ping", {}, task_id="after")  # the worker goes on serving
            assert (await client.wait("after", timeout_s=30))["status"] == "SUCCESS"
    finally:
        own.stop()
    logs = system.logs("worker")
    assert "TaskNotFound" not in logs
    assert '"level": "critical"' not in logs
    assert "stage_end_record_gone" in logs
