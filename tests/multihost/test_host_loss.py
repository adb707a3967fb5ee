"""A worker host lost whole (every process killed) while it runs tasks and holds the GPU lease."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from config import keys
from redis_io import text
from state.tracking import SyncTracker
from tests.harness import wait_until
from tests.multihost.cluster import Cluster
from tests.multihost.conftest import HEARTBEAT_TIMEOUT_S, LEASE_TTL_S, host_of, other
from tests.multihost.network import Host, Network

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

TASKS = {
    "loss-gpu": ("system.gpu_hold", {"seconds": 4}),
    "loss-sleep-1": ("system.sleep", {"seconds": 4}),
    "loss-sleep-2": ("system.sleep", {"seconds": 4}),
    "loss-sleep-3": ("system.sleep", {"seconds": 4}),
}
# The lease runs out by itself after one TTL; the margin covers the monitor's pass and this test's polling.
MARGIN_S = 1.0


def _run_hosts(cluster: Cluster) -> dict[str, str]:
    ids = [text(rid) for rid in cluster.redis.zrange(keys.RUN_CHECKS, 0, -1)]  # one check per tracked run
    runs = [SyncTracker(cluster.redis).get(rid) for rid in ids]
    return {run.workflow_id: run.host for run in runs if run is not None}


@dataclass
class Loss:
    """What losing a host did."""

    survivor: str
    on_lost_host: set[str]
    killed_at: datetime
    lease_freed_s: float
    stages: dict[str, Any]


def _lose_the_lease_holders_host(cluster: Cluster, network: Network, both: list[Host], prefix: str) -> Loss:
    cluster.submit(*((prefix + task_id, name, data) for task_id, (name, data) in TASKS.items()))
    ids = {prefix + task_id for task_id in TASKS}
    wait_until(lambda: set(_run_hosts(cluster)) >= ids, 30, what="every task running")
    lost = host_of(both, wait_until(cluster.holders, 30, what="the lease taken")[0]["host"])
    on_lost_host = {t for t, h in _run_hosts(cluster).items() if h == lost.hostname and t in ids}
    killed_at = datetime.now(UTC)
    assert network.kill_all(lost.netns)
    wait_until(lambda: not cluster.holders(), LEASE_TTL_S + MARGIN_S, 0.01, what="the lost host's lease freed")
    lease_freed_s = (datetime.now(UTC) - killed_at).total_seconds()
    stages = {t: cluster.wait_status(t, {"SUCCESS", "FAILED", "CANCELLED"}, 30) for t in sorted(ids)}
    return Loss(other(both, lost).hostname, on_lost_host, killed_at, lease_freed_s, stages)


def test_a_lost_hosts_stages_are_requeued_once_its_lease_freed_and_the_other_host_finishes_them(
    cluster: Cluster, network: Network, hosts: Callable[..., list[Host]]
) -> None:
    both = hosts(processes=2)  # four single-task pools: each task runs at once on one of them
    loss = _lose_the_lease_holders_host(cluster, network, both, "requeue-")

    assert {s.status for s in loss.stages.values()} == {"SUCCESS"}  # no task lost
    for task_id, stage in loss.stages.items():
        requeues = [e for e in stage.events if e["type"] == "requeued"]
        assert (stage.attempts, len(requeues)) == ((2, 1) if task_id in loss.on_lost_host else (1, 0)), task_id
        assert cluster.first_event(loss.survivor, "stage_succeeded", task_id=task_id), task_id
    recovered_s = max(
        (datetime.fromtimestamp(e["at_ms"] / 1000, UTC) - loss.killed_at).total_seconds()
        for t in loss.on_lost_host
        for e in loss.stages[t].events
    )
    print(  # the figures of the scenario, for the record
        f"host loss: {len(loss.on_lost_host)} stages re-queued {recovered_s:.2f} s after the kill (heartbeat "
        f"timeout {HEARTBEAT_TIMEOUT_S} s), lease freed after {loss.lease_freed_s:.2f} s (TTL {LEASE_TTL_S} s), "
        "tasks lost 0"
    )


def test_with_requeue_off_a_lost_hosts_stages_fail_as_worker_lost_and_the_other_hosts_finish(
    cluster: Cluster, network: Network, hosts: Callable[..., list[Host]]
) -> None:
    both = hosts(processes=2)
    live = "/v1/monitor/config"
    assert cluster.call([["PUT", live, {"gpu_lock_monitor": {"requeue_dead_tasks": False}}]])[0]["status"] == 200
    try:
        loss = _lose_the_lease_holders_host(cluster, network, both, "fail-")
    finally:
        cluster.call([["PUT", live, {"gpu_lock_monitor": {"requeue_dead_tasks": True}}]])

    for task_id, stage in loss.stages.items():
        if task_id in loss.on_lost_host:
            assert (stage.status, stage.error.type, stage.attempts) == ("FAILED", "WorkerLost", 1), task_id
        else:
            assert (stage.status, stage.attempts) == ("SUCCESS", 1), task_id
