"""The monitoring API and /metrics on a healthy system, an operator's fenced release, live settings."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

import redis
from prometheus_client.parser import text_string_to_metric_families

from config import keys
from tests.harness import Client, System, async_wait_until
from tests.monitor.helpers import fast_env, lock_state, run_system, session, wait_holding

ENDPOINTS = ("gpu-locks", "heartbeats", "timeouts", "statistics", "health", "config")


def _check_exposition(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Parse with prometheus_client (and promtool when installed); return name -> labels -> value."""
    if shutil.which("promtool"):
        done = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        assert family.documentation, family.name
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), family.name
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


async def test_every_monitor_answer_is_200_and_metrics_parse_on_a_healthy_system(
    make_system: Callable[..., System],
) -> None:
    system = await run_system(make_system, fast_env())
    async with session() as http:
        client = Client(http, system.base_url)
        await client.submit("system.sleep", {"seconds": 0.2, "gpu": True}, task_id="short")
        assert (await client.wait("short"))["status"] == "SUCCESS"

        async def healthy() -> bool:
            return (await client.request("GET", "/v1/monitor/health"))[1]["status"] == "ok"

        await async_wait_until(healthy, timeout_s=10, what="health ok")

        async def figures_written() -> bool:  # a worker writes its task figures at most about a second late
            return 'taskgate_tasks_finished_total{outcome="success"' in (await client.request("GET", "/metrics"))[1]

        await async_wait_until(figures_written, timeout_s=10, what="the task figures written")
        for name in ENDPOINTS:
            status, body, _ = await client.request("GET", f"/v1/monitor/{name}")
            assert status == 200, (name, body)
        assert (await lock_state(client))["free"]
        status, text, headers = await client.request("GET", "/metrics")

    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    samples = _check_exposition(text)
    assert samples["taskgate_redis_up"][()] == 1
    assert samples["taskgate_workers_alive"][()] >= 1
    assert samples["taskgate_tasks_submitted_total"][(("task_name", "system.sleep"),)] == 1
    assert samples["taskgate_tasks_finished_total"][(("outcome", "success"), ("task_name", "system.sleep"))] == 1
    assert samples["taskgate_task_run_seconds_count"][(("task_name", "system.sleep"),)] == 1
    assert samples["taskgate_task_queue_wait_seconds_count"][(("task_name", "system.sleep"),)] == 1
    assert samples["taskgate_gpu_lease_hold_seconds_count"][(("gpu", "0"),)] == 1
    assert samples["taskgate_gpu_lease_wait_seconds_bucket"][(("gpu", "0"), ("le", "+Inf"))] == 1
    assert samples["taskgate_gpu_lease_holders"][(("gpu", "0"),)] == 0
    assert samples["taskgate_queue_depth"][(("queue", "system"),)] == 0
    assert samples["taskgate_tasks_running"][()] == 0
    assert samples["taskgate_monitor_leader_present"][()] == 1
    assert "taskgate_heartbeat_oldest_age_seconds" in samples


async def test_an_operator_release_is_fenced_and_recorded(system: System, client: Client) -> None:
    await client.submit("system.sleep", {"seconds": 60, "gpu": True}, task_id="held")
    holder = await wait_holding(client, "held")
    path = "/v1/monitor/gpu-locks/0/release"

    status, body, _ = await client.request("POST", path, json={"fencing_token": holder["fencing_token"] + 1})
    assert status == 409, body
    status, body, _ = await client.request("POST", "/v1/monitor/gpu-locks/7/release", json={"fencing_token": 1})
    assert status == 404, body
    status, body, _ = await client.request(
        "POST", path, json={"fencing_token": holder["fencing_token"], "reason": "stuck, says the on-call"}
    )
    assert status == 200, body
    assert body["released"]

    _, locks, _ = await client.request("GET", "/v1/monitor/gpu-locks")
    assert locks["devices"][0]["free"]
    assert locks["force_releases"][0]["reason"] == "stuck, says the on-call"
    record = await client.wait("held", timeout_s=30)
    assert record["status"] in ("CANCELLED", "FAILED")  # the lease loss stops the run


async def test_put_config_changes_a_poll_interval_and_a_tier_that_a_running_worker_uses(
    make_system: Callable[..., System],
) -> None:
    system = await run_system(make_system, fast_env(gpu_lock_monitor__task_timeout_levels="{}"))
    async with session() as http:
        client = Client(http, system.base_url)
        bad = {"gpu_lock_monitor": {"timeout_levels": {"warning": 9, "hard_timeout": 1}}}
        status, body, _ = await client.request("PUT", "/v1/monitor/config", json=bad)
        assert status == 422, body
        assert body["errors"][0]["pointer"] == "$.gpu_lock_monitor.timeout_levels"
        unknown = {"gpu_lock_monitor": {"task_timeout_levels": {"no.such_task": {"warning": 1}}}}
        status, body, _ = await client.request("PUT", "/v1/monitor/config", json=unknown)
        assert status == 422, body
        assert body["errors"][0]["pointer"] == "$.gpu_lock_monitor.task_timeout_levels"
        change = {
            "gpu_lock": {"poll_interval": 3.0, "max_poll_interval": 3.0, "exponential_backoff": False, "jitter": 0},
            "gpu_lock_monitor": {
                "task_timeout_levels": {"system.sleep": {"warning": 0.5, "soft_timeout": 1.0, "hard_timeout": 1.5}}
            },
        }
        status, body, _ = await client.request("PUT", "/v1/monitor/config", json=change)
        assert status == 200, body
        assert body["version"] == 1
        assert body["gpu_lock"]["poll_interval"] == 3.0

        # The tier: a task blocked on a child process is killed at the new 1.5 s hard tier (default: 7200 s).
        await client.submit(
            "system.sleep", {"seconds": 60, "mode": "subprocess_blocking", "gpu": True}, task_id="new-tier"
        )
        await wait_holding(client, "new-tier")
        # The poll interval: a second GPU task (the worker's other thread) waits, and its waiter deadline is
        # its 3 s poll plus 1 s grace (0.5 s + 1 s by default). The hard tier ends it too; its end is not checked.
        await client.submit("system.sleep", {"seconds": 0.1, "gpu": True}, task_id="waiter")

        system_redis = redis.Redis.from_url(system.env["TASKGATE_REDIS_URL"])

        async def waiter_ttl_s() -> float | None:
            entries = system_redis.zrange(keys.GPU_WAITER_DEADLINES, 0, -1, withscores=True)
            seconds, micros = system_redis.time()
            now_ms = seconds * 1000 + micros // 1000
            return max(((score - now_ms) / 1000 for _, score in entries), default=None)

        ttl_s = await async_wait_until(waiter_ttl_s, timeout_s=10, what="the second task waiting")
        system_redis.close()
        assert ttl_s > 2.5

        record = await client.wait("new-tier", timeout_s=20)
        assert record["status"] == "FAILED", record
        assert record["error"]["type"] == "HardTimeout"
        assert "hard timeout of 1.5 s" in record["error"]["message"]
