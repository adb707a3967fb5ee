"""The tiers act: warning records, soft asks a cooperative task to stop, hard kills blocked work."""

from __future__ import annotations

from collections.abc import Callable

from tests.harness import Client, System, async_wait_until, wait_until
from tests.monitor.helpers import events, fast_env, lock_state, process_gone, run_system, session, wait_holding


async def _hard_kill(client: Client, system: System, task_id: str, mode: str) -> dict:
    await client.submit("system.sleep", {"seconds": 60, "mode": mode, "gpu": True}, task_id=task_id)
    holder = await wait_holding(client, task_id)
    record = await client.wait(task_id, timeout_s=30)

    assert record["status"] == "FAILED", record
    assert record["error"]["type"] == "HardTimeout"
    assert "past the hard timeout of 4 s" in record["error"]["message"]
    tiers = [e["tier"] for e in record["stages"]["system.sleep"]["events"] if e["type"] == "timeout"]
    assert tiers == ["warning", "soft"]
    device = await lock_state(client)
    assert device["free"]
    assert device["holders"] == []
    hard = [e for e in await events(client, "hard") if e["task_id"] == task_id]
    assert hard
    assert hard[0]["action"] == "killed"
    wait_until(lambda: process_gone(hard[0]["pid"]), timeout_s=10, what="the killed worker process gone")
    _status, body, _ = await client.request("GET", "/v1/monitor/gpu-locks")
    released = [r for r in body["force_releases"] if r["fencing_token"] == holder["fencing_token"]]
    assert released
    assert "hard timeout" in released[0]["reason"]
    return record


async def test_hard_tier_kills_work_blocked_in_c_code_and_in_a_subprocess_and_the_pool_serves_on(
    make_system: Callable[..., System],
) -> None:
    system = await run_system(make_system, fast_env())
    async with session() as http:
        client = Client(http, system.base_url)

        await _hard_kill(client, system, "blocked-in-c", "c")
        await _hard_kill(client, system, "blocked-in-child", "subprocess_blocking")
        child_pid = int((system.share_dir / "workflows/blocked-in-child/system.sleep/child.pid").read_text())
        wait_until(lambda: process_gone(child_pid), timeout_s=10, what="the worker's child process gone")

        await client.submit("system.ping", {}, task_id="after-kills")
        record = await client.wait("after-kills", timeout_s=60)
    assert record["status"] == "SUCCESS", record
    assert "worker_pool_exited" in system.logs("worker")


async def test_soft_tier_stops_a_cooperative_task_as_cancelled(make_system: Callable[..., System]) -> None:
    system = await run_system(make_system, fast_env())
    async with session() as http:
        client = Client(http, system.base_url)
        await client.submit("system.sleep", {"seconds": 60, "gpu": True}, task_id="cooperative")
        record = await client.wait("cooperative", timeout_s=30)

        assert record["status"] == "CANCELLED", record
        stage = record["stages"]["system.sleep"]
        assert [e["tier"] for e in stage["events"] if e["type"] == "timeout"] == ["warning", "soft"]
        assert stage["duration_s"] < 4.0
        assert (await lock_state(client))["free"]
        warnings = await events(client, "warning")
        assert warnings
        assert warnings[0]["task_id"] == "cooperative"
        finished = 'taskgate_tasks_finished_total{outcome="cancelled",task_name="system.sleep"} 1.0'

        async def figures() -> str | None:  # a worker writes its task figures at most about a second late
            status, body, _ = await client.request("GET", "/metrics")
            assert status == 200
            return body if finished in body else None

        body = await async_wait_until(figures, timeout_s=10, what="the task figures written")
    assert 'taskgate_timeout_tier_events_total{tier="soft"} 1.0' in body
