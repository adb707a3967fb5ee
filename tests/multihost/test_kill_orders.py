"""The monitor's kill order for a hard timeout reaches the sidecar of the host that runs the task, only it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import psutil
import pytest

from config import keys
from tests.harness import wait_until
from tests.multihost.cluster import Cluster
from tests.multihost.conftest import host_of, other
from tests.multihost.network import Host, Network

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

# Tiers the workers start system.sleep under (the run carries its limits; the monitor acts on them).
TIERS = {"system.sleep": {"warning": 0.5, "soft_timeout": 1.0, "hard_timeout": 2.0}}
TIERS_ENV = {"TASKGATE_GPU_LOCK_MONITOR__TASK_TIMEOUT_LEVELS": json.dumps(TIERS)}


def _run(cluster: Cluster, task_id: str) -> dict[str, Any] | None:
    raw = cluster.redis.hget(keys.workflow_state(task_id), keys.run_field(cluster.stage(task_id).task_name))
    return json.loads(raw) if raw else None


def test_a_hard_timeout_kills_the_process_on_the_host_that_runs_it_and_nothing_on_the_other(
    cluster: Cluster, network: Network, hosts: Callable[..., list[Host]]
) -> None:
    both = hosts(env=TIERS_ENV)
    # Sleeping in C with the GIL held: no checkpoint, so the soft tier cannot stop it and the hard one must.
    cluster.submit(("stuck", "system.sleep", {"seconds": 30, "mode": "c"}))
    stuck = wait_until(lambda: _run(cluster, "stuck"), 30, what="the stuck task running")
    target = host_of(both, stuck["host"])
    bystander = other(both, target)
    cluster.submit(("bystander", "system.gpu_hold", {"seconds": 3}))  # the target host is busy: it runs here
    running = wait_until(lambda: _run(cluster, "bystander"), 30, what="the bystander running")
    assert running["host"] == bystander.hostname
    bystander_pids = {p: psutil.Process(p).create_time() for p in network.pids(bystander.netns)}

    stage = cluster.wait_status("stuck", {"FAILED", "SUCCESS", "CANCELLED"}, 20)
    assert stage.status == "FAILED"
    assert "hard timeout" in stage.error.message
    killed = wait_until(lambda: cluster.first_event(target.hostname, "worker_killed"), 10, what="the kill")
    assert (killed["pid"], killed["run_id"]) == (stuck["pid"], "stuck|system.sleep")
    assert not psutil.pid_exists(stuck["pid"]) or psutil.Process(stuck["pid"]).status() == psutil.STATUS_ZOMBIE
    assert cluster.wait_status("bystander", {"SUCCESS", "FAILED", "CANCELLED"}, 20).status == "SUCCESS"
    assert cluster.first_event(bystander.hostname, "worker_killed") is None
    for pid, created in bystander_pids.items():  # every process of the other host still runs, none restarted
        assert psutil.Process(pid).create_time() == created
    assert cluster.redis.llen(keys.kill_orders(bystander.hostname)) == 0
