"""DELETE on a running task: it stops at its next checkpoint, or its child process is killed."""

from __future__ import annotations

import time

import pytest

from tests.harness import Client, System


@pytest.mark.parametrize("mode", ["python", "subprocess"])
async def test_running_task_is_cancelled_within_a_second(system: System, client: Client, mode: str) -> None:
    task_id = f"cancel-{mode}"
    await client.submit("system.sleep", {"seconds": 30, "mode": mode}, task_id=task_id)
    await client.wait(task_id, statuses={"RUNNING"}, timeout_s=30)

    asked = time.monotonic()
    status, body, _ = await client.request("DELETE", f"/v1/tasks/{task_id}")
    assert status == 202, body
    record = await client.wait(task_id, timeout_s=10)

    assert record["status"] == "CANCELLED", record
    assert record["stages"]["system.sleep"]["error"]["type"] == "TaskCancelled"
    assert time.monotonic() - asked < 5
