"""Fixtures of the multi-host tests: namespaces, a control plane and worker hosts, all removed afterwards."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import pytest

from tests.multihost.cluster import Cluster
from tests.multihost.network import Host, Network, require_root

# Seconds instead of minutes: a lease lives 2 s, a run is dead after 3 s without a heartbeat (so in a
# partition the lease runs out before the monitor acts), the monitor passes five times a second.
LEASE_TTL_S = 2.0
HEARTBEAT_TIMEOUT_S = 3.0
SETTINGS = {
    "TASKGATE_GPU_LOCK__LEASE_TTL": str(LEASE_TTL_S),
    "TASKGATE_GPU_LOCK__POLL_INTERVAL": "0.1",
    "TASKGATE_GPU_LOCK__MAX_POLL_INTERVAL": "0.5",
    "TASKGATE_GPU_LOCK_MONITOR__MONITOR_INTERVAL": "0.2",
    "TASKGATE_GPU_LOCK_MONITOR__HEARTBEAT__INTERVAL": "0.3",
    "TASKGATE_GPU_LOCK_MONITOR__HEARTBEAT__TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
    "TASKGATE_GPU_LOCK_MONITOR__REQUEUE_DEAD_TASKS": "true",
}


@pytest.fixture(scope="session")
def network() -> Iterator[Network]:
    """A control namespace and two linked host namespaces, deleted (with what runs inside) at the end."""
    require_root()
    net = Network(tag=f"{os.getpid() % 0x10000:x}")
    try:
        net.create(host_count=2)
        yield net
    finally:
        net.remove()


@pytest.fixture(scope="session")
def cluster(network: Network, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Redis, the gateway and the monitor running in the control namespace."""
    control = Cluster(network, tmp_path_factory.mktemp("multihost"), SETTINGS)
    try:
        control.start_control()
        yield control
    finally:
        control.stop()


@contextmanager
def running_hosts(
    cluster: Cluster, network: Network, processes: int = 1, env: dict[str, str] | None = None
) -> Iterator[list[Host]]:
    """Run both hosts' supervisors; afterwards every link is restored and every host process killed."""
    try:
        cluster.start_hosts(network.hosts, processes, env)
        yield list(network.hosts)
    finally:
        for host in network.hosts:
            network.set_link(host, up=True)
            cluster.stop_host(host)


@pytest.fixture
def hosts(cluster: Cluster, network: Network) -> Iterator[Callable[..., list[Host]]]:
    """Return a starter of both hosts (``processes`` pools each, extra ``env``), stopped after the test."""
    with ExitStack() as stack:

        def start(processes: int = 1, env: dict[str, str] | None = None) -> list[Host]:
            return stack.enter_context(running_hosts(cluster, network, processes, env))

        yield start


def host_of(hosts: list[Host], hostname: str) -> Host:
    """Return the host with this host name."""
    return next(h for h in hosts if h.hostname == hostname)


def other(hosts: list[Host], host: Host) -> Host:
    """Return the host that is not ``host``."""
    return next(h for h in hosts if h is not host)
