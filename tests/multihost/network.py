"""Simulated hosts on one machine: a network namespace per host, linked to a "control" namespace by veths.

Every address comes from 198.18.0.0/15 (reserved for network tests) and lives only inside namespaces made
here: host ``i`` is 198.18.i.2 on its own link to the control namespace's 198.18.i.1. The root namespace
gets no address and no route, so nothing the hosts send can leave them. Everything made is removed by
``Network.remove``, which also kills whatever still runs inside the namespaces.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field

import pytest

NOT_ROOT_HINT = (
    "the multi-host tests make network namespaces and veth links: run them as root (CI does), "
    "with iproute2 (`ip`) and util-linux (`unshare`) installed"
)


def _ip(*args: str, netns: str | None = None) -> None:
    command = ["ip", *(["-n", netns] if netns else []), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")


def require_root() -> None:
    """Fail (never skip) with an install hint where namespaces cannot be made."""
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("unshare"):
        pytest.fail(NOT_ROOT_HINT)


@dataclass
class Host:
    """A simulated worker host: its namespace, host name, address and link to the control namespace."""

    index: int
    netns: str
    hostname: str
    link: str  # the veth end inside the host's namespace
    peer: str  # its other end, in the control namespace

    @property
    def address(self) -> str:
        """Return the host's own address."""
        return f"198.18.{self.index}.2"

    @property
    def control_address(self) -> str:
        """Return the control namespace's address on this host's link."""
        return f"198.18.{self.index}.1"


@dataclass
class Network:
    """The control namespace and its hosts, under names unique to this test process."""

    tag: str
    control: str = ""
    hosts: list[Host] = field(default_factory=list)

    def create(self, host_count: int) -> None:
        """Make the control namespace and ``host_count`` linked host namespaces."""
        self.control = f"tg{self.tag}-control"
        _ip("netns", "add", self.control)
        _ip("link", "set", "lo", "up", netns=self.control)
        for index in range(1, host_count + 1):
            name = f"tg{self.tag}-h{index}"
            host = Host(index, name, name, link=f"tg{self.tag}h{index}", peer=f"tg{self.tag}c{index}")
            _ip("netns", "add", host.netns)
            self.hosts.append(host)
            ends = [host.link, "netns", host.netns, "type", "veth", "peer", "name", host.peer, "netns", self.control]
            _ip("link", "add", *ends)
            _ip("addr", "add", f"{host.control_address}/24", "dev", host.peer, netns=self.control)
            _ip("link", "set", "lo", "up", netns=host.netns)
            _ip("addr", "add", f"{host.address}/24", "dev", host.link, netns=host.netns)
            _ip("link", "set", host.link, "up", netns=host.netns)
            self.set_link(host, up=True)

    def set_link(self, host: Host, *, up: bool) -> None:
        """Bring the control end of the host's link up or down.

        Down is a cable cut as the host sees it: its own interface stays up without carrier, so its packets
        vanish (connections hang until their timeouts) instead of failing at once for want of a route.
        """
        _ip("link", "set", host.peer, "up" if up else "down", netns=self.control)

    def pids(self, netns: str) -> list[int]:
        """Return the pids of every process inside a namespace."""
        done = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True, timeout=10, check=False)
        return [int(pid) for pid in done.stdout.split()]

    def kill_all(self, netns: str) -> list[int]:
        """SIGKILL every process inside a namespace; return their pids."""
        pids = self.pids(netns)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        return pids

    def remove(self) -> None:
        """Kill what runs inside and delete every namespace (their veths go with them)."""
        for netns in [h.netns for h in self.hosts] + ([self.control] if self.control else []):
            self.kill_all(netns)
            subprocess.run(["ip", "netns", "del", netns], capture_output=True, timeout=10, check=False)
        self.hosts.clear()
        self.control = ""


def in_namespace(netns: str, hostname: str | None, args: list[str]) -> list[str]:
    """Return ``args`` wrapped to run inside ``netns``, under ``hostname`` in a UTS namespace of its own."""
    if hostname is None:
        return ["ip", "netns", "exec", netns, *args]
    # sh sets the name inside the new UTS namespace, then becomes the command.
    return ["ip", "netns", "exec", netns, "unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', hostname, *args]
