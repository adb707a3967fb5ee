"""A host cut off while it holds the GPU lease and runs a long GPU task, then healed.

One run of the scenario (the module fixture) is checked by the tests below. The holder's task is a sleep
in a child process (no checkpoints), so it runs on after its holder learns the lease is lost. The link
comes back once the monitor has re-queued the stage to the other host and before the sleep ends: the
late result then reaches Redis and the fence, not a timeout, is what refuses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psutil
import pytest

from tests.harness import wait_until
from tests.multihost.cluster import Cluster, at
from tests.multihost.conftest import LEASE_TTL_S, host_of, other, running_hosts
from tests.multihost.holds import NEVER, logged_holds, overlaps, recorded_holds
from tests.multihost.network import Host, Network

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

HOLDER_TASK = {"seconds": 8, "mode": "subprocess_blocking", "gpu": True}
DURING = ["during-1", "during-2", "during-3"]
AFTER = ["after-1", "after-2"]


@dataclass
class Partition:
    """What one run of the scenario observed."""

    holder: Host
    waiter: Host
    cut_at: datetime = NEVER
    healed_at: datetime = NEVER
    holder_log: list[dict[str, Any]] = field(default_factory=list)
    waiter_log: list[dict[str, Any]] = field(default_factory=list)


def _holding(cluster: Cluster, task_id: str) -> list[dict[str, Any]]:
    return [h for h in cluster.holders() if h["task_id"] == task_id]


def _child_alive(cluster: Cluster) -> bool:
    pid = int((cluster.share_dir / "workflows" / "cut-off" / "system.sleep" / "child.pid").read_text())
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _second_attempt_running(cluster: Cluster) -> bool:
    stage = cluster.stage("cut-off")
    return stage.attempts == 2 and stage.status == "RUNNING"


def _cut_and_heal(cluster: Cluster, network: Network, hosts: list[Host]) -> Partition:
    cluster.submit(("cut-off", "system.sleep", HOLDER_TASK))
    holder = host_of(hosts, wait_until(lambda: _holding(cluster, "cut-off"), 30, what="the lease taken")[0]["host"])
    # Each host runs one task at a time, so the holder's host cannot take this one: the other host waits.
    cluster.submit(("waiter", "system.gpu_hold", {"seconds": 1}))
    cluster.wait_status("waiter", {"RUNNING"}, 30)
    seen = Partition(holder=holder, waiter=other(hosts, holder))
    network.set_link(holder, up=False)
    seen.cut_at = datetime.now(UTC)
    cluster.submit(*((task_id, "system.ping", {}) for task_id in DURING))
    wait_until(lambda: _holding(cluster, "waiter"), 20, what="the waiter holding the lease")
    wait_until(lambda: cluster.first_event(holder.hostname, "gpu_lease_lost"), 20, what="the holder told")
    # The re-queued stage is a message put back: it is taken before the pings waiting in their priority lanes
    # (README: Priorities), so the other host runs it first and the pings after it (or on the healed host).
    wait_until(lambda: _second_attempt_running(cluster), 20, what="the stage re-queued to the other host")
    assert _child_alive(cluster), "the cut-off task ended before the heal: lengthen HOLDER_TASK"
    network.set_link(holder, up=True)
    seen.healed_at = datetime.now(UTC)
    wait_until(lambda: cluster.first_event(holder.hostname, "stage_result_discarded"), 20, what="the late result")
    for task_id in DURING:
        cluster.wait_status(task_id, {"SUCCESS"}, 30)
    cluster.submit(*((task_id, "system.ping", {}) for task_id in AFTER))
    for task_id in ["waiter", *AFTER]:
        cluster.wait_status(task_id, {"SUCCESS"}, 30)
    wait_until(lambda: cluster.first_event(seen.waiter.hostname, "lease_released", task_id="cut-off"), 30)
    seen.holder_log = cluster.events(holder.hostname)
    seen.waiter_log = cluster.events(seen.waiter.hostname)
    return seen


@pytest.fixture(scope="module")
def partition(cluster: Cluster, network: Network) -> Iterator[Partition]:
    """Run the scenario once: cut the holder's link, heal it once its work is done."""
    with running_hosts(cluster, network) as hosts:
        seen = _cut_and_heal(cluster, network, hosts)
        leased = at(cluster.first_event(seen.waiter.hostname, "gpu_lease_taken") or {})
        told = at(cluster.first_event(seen.holder.hostname, "gpu_lease_lost") or {})
        print(  # the figures of the scenario, for the record
            f"partition: holder told it lost the lease {(told - seen.cut_at).total_seconds():.2f} s and the "
            f"waiter on the other host leased {(leased - seen.cut_at).total_seconds():.2f} s after the cut "
            f"(lease TTL {LEASE_TTL_S} s); healed after {(seen.healed_at - seen.cut_at).total_seconds():.2f} s"
        )
        yield seen


def test_the_waiter_on_the_other_host_gets_the_lease_after_the_ttl_and_the_holder_learns_it_lost_it(
    partition: Partition, cluster: Cluster
) -> None:
    waiter = next(e for e in partition.waiter_log if e.get("event") == "gpu_lease_taken")
    taken = next(e for e in partition.holder_log if e.get("event") == "gpu_lease_taken")
    lost = next(e for e in partition.holder_log if e.get("event") == "gpu_lease_lost")
    assert waiter["task_id"] == "waiter"
    assert (taken["task_id"], lost["fencing_token"]) == ("cut-off", taken["fencing_token"])
    assert at(lost) <= at(waiter)  # told before anyone else could hold the device
    assert partition.cut_at < at(lost) < partition.healed_at  # told while still cut off


def test_the_late_result_of_the_cut_off_holder_is_refused_by_the_fence_and_never_committed(
    partition: Partition, cluster: Cluster
) -> None:
    discarded = next(e for e in partition.holder_log if e.get("event") == "stage_result_discarded")
    assert discarded["task_id"] == "cut-off"
    assert "lease" in discarded["reason"]
    assert not [e for e in partition.holder_log if e.get("event") == "stage_succeeded" and e["task_id"] == "cut-off"]
    stage = cluster.stage("cut-off")
    taken = next(e for e in partition.holder_log if e.get("event") == "gpu_lease_taken")
    assert not (stage.status == "SUCCESS" and stage.gpu["fencing_token"] == taken["fencing_token"])


def test_no_two_holders_of_the_device_overlap_in_either_hosts_records(partition: Partition, cluster: Cluster) -> None:
    holds = logged_holds(cluster, partition.holder.hostname) + logged_holds(cluster, partition.waiter.hostname)
    assert len(holds) == 3  # the cut-off task, the waiter, the cut-off task's second attempt
    assert overlaps(holds) == []
    assert overlaps(recorded_holds(cluster, ["cut-off", "waiter"])) == []


def test_every_task_submitted_during_the_partition_finished_and_the_healed_host_serves_again(
    partition: Partition, cluster: Cluster
) -> None:
    assert {cluster.stage(t).status for t in DURING} == {"SUCCESS"}
    ran_on_holder = {e["task_id"] for e in partition.holder_log if e.get("event") == "stage_succeeded"}
    assert ran_on_holder & set(AFTER)  # the other host was busy with the re-queued task


def test_the_requeued_attempt_on_the_other_host_finishes_the_cut_off_task(
    partition: Partition, cluster: Cluster
) -> None:
    stage = cluster.wait_status("cut-off", {"SUCCESS", "FAILED", "CANCELLED"}, 30)
    assert stage.status == "SUCCESS", stage.error
    assert stage.attempts == 2
