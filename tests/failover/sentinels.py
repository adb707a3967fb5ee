"""One Redis primary, one replica and three sentinels as real ``redis-server`` processes on loopback."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from pathlib import Path

import redis

from taskgate.embedded_redis import find_redis_server, free_port
from tests.harness import wait_until

MASTER = "mymaster"
# A primary is down after a second without answers; a failover that stalls is retried after 3 s.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 3000
QUORUM = 2


def _client(port: int) -> redis.Redis:
    return redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1, decode_responses=True)


class SentinelSet:
    """A primary, a replica following it, and three sentinels watching the primary as ``MASTER``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.binary = find_redis_server()
        self.ports = {"primary": free_port(), "replica": free_port()}
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def sentinels(self) -> str:
        """Return the sentinels as ``TASKGATE_REDIS_SENTINELS`` takes them."""
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def start(self) -> None:
        """Start every process and wait until the replica is in sync and the sentinels know each other."""
        primary = self.ports["primary"]
        self._spawn("primary", ["--port", str(primary)])
        self._spawn("replica", ["--port", str(self.ports["replica"]), "--replicaof", "127.0.0.1", str(primary)])
        for index, port in enumerate(self.sentinel_ports):
            conf = self.root / f"sentinel{index}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.root}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {primary} {QUORUM}\n"
                f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n"
            )
            self._spawn(f"sentinel{index}", [str(conf), "--sentinel"], persist=False)
        wait_until(self._replica_in_sync, 20, 0.05, "the replica in sync with the primary")
        wait_until(self._sentinels_ready, 30, 0.1, "each sentinel to know the replica and the other two")

    def _spawn(self, name: str, args: list[str], persist: bool = True) -> None:
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.root)]
        command = [self.binary, *args, *(options if persist else [])]
        if persist:
            command += ["--dbfilename", f"{name}.rdb"]
        with (self.root / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def _replica_in_sync(self) -> bool:
        with contextlib.suppress(redis.RedisError), _client(self.ports["replica"]) as client:
            return bool(client.info("replication").get("master_link_status") == "up")
        return False

    def _sentinels_ready(self) -> bool:
        for port in self.sentinel_ports:
            try:
                with _client(port) as client:
                    others = client.sentinel_sentinels(MASTER)
                    replicas = client.sentinel_slaves(MASTER)
            except redis.RedisError:
                return False
            if len(others) < len(self.sentinel_ports) - 1 or not replicas:
                return False
        return True

    def primary_port(self) -> int | None:
        """Return the port of the primary that the first answering sentinel names."""
        for port in self.sentinel_ports:
            with contextlib.suppress(redis.RedisError), _client(port) as client:
                address = client.sentinel_get_master_addr_by_name(MASTER)
                return int(address[1])
        return None

    def named_by_all(self, port: int) -> bool:
        """Return whether every sentinel names the instance on ``port`` as the primary."""
        named = []
        for sentinel_port in self.sentinel_ports:
            with contextlib.suppress(redis.RedisError), _client(sentinel_port) as client:
                named.append(int(client.sentinel_get_master_addr_by_name(MASTER)[1]))
        return named == [port] * len(self.sentinel_ports)

    def kill_primary(self) -> None:
        """SIGKILL the primary (no shutdown, no last write to its replica)."""
        proc = self.procs["primary"]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self) -> None:
        """Kill every process that still runs."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
