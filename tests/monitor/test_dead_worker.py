"""A worker that dies: its heartbeat stops, its lease is freed, its stage is re-queued once or failed."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

from tests.harness import Client, System, async_wait_until, wait_until
from tests.monitor.helpers import events, fast_env, lock_state, run_system, session, wait_holding


async def test_sigkilled_worker_is_detected_its_lease_freed_and_its_stage_requeued_once(
    make_system: Callable[..., System],
) -> None:
    # The broker re-delivers the killed worker's unacked message within seconds: it must not run twice.
    env = fast_env(
        broker_heartbeat_timeout_s=1, broker_maintenance_chance=1_000_000, gpu_lock_monitor__task_timeout_levels="{}"
    )
    system = await run_system(make_system, env)
    async with session() as http:
        client = Client(http, system.base_url)
        await client.submit("system.sleep", {"seconds": 3, "gpu": True}, task_id="victim")
        holder = await wait_holding(client, "victim")

        async def beating_with_progress() -> bool:
            _, body, _ = await client.request("GET", "/v1/monitor/heartbeats")
            return any(b["task_id"] == "victim" and b["progress"] for b in body["alive"])

        await async_wait_until(beating_with_progress, timeout_s=10, what="a heartbeat carrying progress")
        os.kill(holder["pid"], signal.SIGKILL)
        record = await client.wait("victim", timeout_s=60)

        assert record["status"] == "SUCCESS", record
        stage = record["stages"]["system.sleep"]
        assert stage["attempts"] == 2
        assert [e["type"] for e in stage["events"]] == ["requeued"]
        dead = await events(client, "dead")
        assert [(e["task_id"], e["action"]) for e in dead] == [("victim", "requeued")]
        _, body, _ = await client.request("GET", "/v1/monitor/gpu-locks")
        assert any(r["fencing_token"] == holder["fencing_token"] for r in body["force_releases"])
        assert (await lock_state(client))["free"]
        wait_until(
            lambda: (
                "stage_already_finished" in system.logs("worker") or "stage_message_superseded" in system.logs("worker")
            ),
            timeout_s=30,
            what="the original message skipped on redelivery",
        )
        assert (await client.task("victim"))["stages"]["system.sleep"]["attempts"] == 2


async def test_a_silent_worker_host_fails_the_stage_when_requeue_is_off(make_system: Callable[..., System]) -> None:
    env = fast_env(gpu_lock_monitor__requeue_dead_tasks="false")
    system = await run_system(make_system, env)
    async with session() as http:
        client = Client(http, system.base_url)
        await client.submit("system.sleep", {"seconds": 60, "gpu": True}, task_id="orphan")
        await wait_holding(client, "orphan")
        system.kill("worker")  # the supervisor and its sidecar too: heartbeats just stop
        record = await client.wait("orphan", timeout_s=30)

        assert record["status"] == "FAILED", record
        assert record["error"]["type"] == "WorkerLost"
        assert "no heartbeat within 1.5 s" in record["error"]["message"]
        assert (await lock_state(client))["free"]
        status, body, _ = await client.request("GET", "/v1/monitor/health")
    assert status == 503
    assert "no_workers_alive" in [i["code"] for i in body["issues"]]
