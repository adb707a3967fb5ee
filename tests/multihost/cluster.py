"""The processes of a multi-host taskgate: Redis, gateway and monitor in the control namespace, workers on hosts.

The test process has no address in the namespaces: it reads Redis through a Unix socket (the filesystem is
shared, as the storage root is) and talks HTTP to the gateway through ``tests.multihost.driver`` run inside
the control namespace. Logs are JSON lines, one file per process, in ``work_dir``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import redis

from config import keys
from state.models import Workflow
from state.records import parse_workflow
from taskgate.embedded_redis import find_redis_server
from tests.harness import ROOT, wait_until
from tests.multihost.network import Host, Network, in_namespace

REDIS_PORT = 6379
GATEWAY_URL = "http://127.0.0.1:8788"


class Cluster:
    """Start, stop and observe the processes of one simulated cluster."""

    def __init__(self, network: Network, work_dir: Path, settings: dict[str, str]) -> None:
        self.network = network
        self.work_dir = work_dir
        self.share_dir = work_dir / "share"
        self.share_dir.mkdir()
        self.socket = work_dir / "redis.sock"
        self.settings = settings
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        # Each start of the hosts logs to new files: a test reads only its own hosts' events.
        self.host_logs: dict[str, str] = {}
        self.host_starts = 0
        self.redis = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=10)

    def env(self, redis_host: str, **extra: str) -> dict[str, str]:
        """Return the environment of a taskgate process that reaches Redis at ``redis_host``."""
        return {
            **os.environ,
            **self.settings,
            "TASKGATE_REDIS_URL": f"redis://{redis_host}:{REDIS_PORT}/0",
            "TASKGATE_SHARE_DIR": str(self.share_dir),
            "TASKGATE_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start a process with its output in its log file."""
        with self.log_path(name).open("ab") as log:
            proc = subprocess.Popen(
                args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs[name] = proc
        return proc

    def start_control(self) -> None:
        """Start Redis, the gateway (monitor off) and the monitor alone, as the Kubernetes files do."""
        binds = ["127.0.0.1", *(h.control_address for h in self.network.hosts)]
        server = [find_redis_server(), "--port", str(REDIS_PORT), "--bind", *binds, "--protected-mode", "no"]
        server += ["--unixsocket", str(self.socket), "--unixsocketperm", "700", "--save", "", "--appendonly", "no"]
        self.spawn("redis", in_namespace(self.network.control, None, server))
        wait_until(self._redis_up, timeout_s=10, what="redis-server in the control namespace")
        local = self.env("127.0.0.1", TASKGATE_HOST="127.0.0.1", TASKGATE_PORT="8788")
        gateway = {**local, "TASKGATE_GPU_LOCK_MONITOR__ENABLED": "false"}
        self.spawn("gateway", in_namespace(self.network.control, None, [sys.executable, "-m", "gateway"]), gateway)
        self.spawn("monitor", in_namespace(self.network.control, None, [sys.executable, "-m", "monitor"]), local)
        wait_until(lambda: self.call([["GET", "/readyz", None]])[0]["status"] == 200, timeout_s=30, what="gateway")
        wait_until(lambda: self.redis.get(keys.MONITOR_LEADER), timeout_s=30, what="a monitor leading")

    def _redis_up(self) -> bool:
        try:
            return bool(self.redis.ping())
        except (redis.ConnectionError, FileNotFoundError):
            return False

    def start_hosts(self, hosts: list[Host], processes: int = 1, env: dict[str, str] | None = None) -> None:
        """Start each host's worker supervisor (one thread per pool, one message prefetched per pool)."""
        args = [sys.executable, "-m", "taskgate", "worker", "--processes", str(processes), "--threads", "1"]
        self.host_starts += 1
        for host in hosts:
            self.host_logs[host.hostname] = f"{host.hostname}.{self.host_starts}"
            host_env = self.env(host.control_address, dramatiq_queue_prefetch="1", **(env or {}))
            self.spawn(host.hostname, in_namespace(host.netns, host.hostname, args), host_env)
        for host in hosts:
            wait_until(lambda h=host: len(self.workers(h)) == processes, 30, what=f"{host.hostname}'s worker pools")

    def workers(self, host: Host) -> list[int]:
        """Return the worker pids the host's sidecar reported alive in the last two seconds."""
        now_ms = int(self.redis.time()[0]) * 1000
        seen = self.redis.zrangebyscore(keys.WORKERS, now_ms - 2000, "+inf")
        prefix = f"{host.hostname}:"
        return [int(m.decode()[len(prefix) :]) for m in seen if m.decode().startswith(prefix)]

    def stop_host(self, host: Host) -> None:
        """Kill every process of the host (its supervisor, pools and their children)."""
        self.network.kill_all(host.netns)
        proc = self.procs.pop(host.hostname, None)
        if proc is not None:
            proc.wait(timeout=10)

    def stop(self) -> None:
        """Stop every process started here (SIGTERM first, then SIGKILL)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        self.redis.close()

    # -- observing and driving ------------------------------------------------------------------------

    def call(self, requests: list[list[Any]]) -> list[dict[str, Any]]:
        """Send HTTP requests to the gateway from inside the control namespace; return the answers."""
        args = [sys.executable, "-m", "tests.multihost.driver", GATEWAY_URL, json.dumps(requests)]
        done = subprocess.run(
            in_namespace(self.network.control, None, args), cwd=ROOT, capture_output=True, timeout=30, check=False
        )
        if done.returncode != 0:
            raise AssertionError(f"driver failed: {done.stderr.decode(errors='replace')[-2000:]}")
        return [json.loads(line) for line in done.stdout.splitlines()]

    def submit(self, *tasks: tuple[str, str, dict[str, Any]]) -> None:
        """Submit ``(task_id, task_name, input_data)`` tasks; fail unless each is accepted."""
        body = [["POST", "/v1/tasks", {"task_id": t, "task_name": n, "input_data": i}] for t, n, i in tasks]
        for answer in self.call(body):
            assert answer["status"] == 202, answer

    def workflow(self, task_id: str) -> Workflow:
        """Return a task's workflow as stored in Redis."""
        found = parse_workflow(self.redis.hgetall(keys.workflow_state(task_id)))
        assert found is not None, task_id
        return found

    def stage(self, task_id: str) -> Any:
        """Return the one stage of a single-stage task."""
        (only,) = self.workflow(task_id).stages.values()
        return only

    def wait_status(self, task_id: str, statuses: set[str], timeout_s: float) -> Any:
        """Wait until the task's stage reaches one of ``statuses``; return the stage."""
        wait_until(lambda: self.stage(task_id).status in statuses, timeout_s, 0.05, f"{task_id} in {statuses}")
        return self.stage(task_id)

    def holders(self, device: int = 0) -> list[dict[str, Any]]:
        """Return the lease holders of a device whose lease has not expired (by the server's clock)."""
        seconds, micros = self.redis.time()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        live = self.redis.zrangebyscore(keys.gpu_holders(device), now_ms, "+inf")
        infos = self.redis.hmget(keys.GPU_HOLDER_INFO.format(device=device), live) if live else []
        return [json.loads(info) for info in infos if info]

    def events(self, name: str) -> list[dict[str, Any]]:
        """Return the JSON log events a process has written so far."""
        path = self.log_path(name)
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return [json.loads(line) for line in lines if line.startswith("{")]

    def log_path(self, name: str) -> Path:
        """Return the log file of a process (of a host: its latest start)."""
        return self.work_dir / f"{self.host_logs.get(name, name)}.log"

    def first_event(self, name: str, event: str, **fields: Any) -> dict[str, Any] | None:
        """Return the process's first log event named ``event`` whose fields match."""
        for entry in self.events(name):
            if entry.get("event") == event and all(entry.get(k) == v for k, v in fields.items()):
                return entry
        return None


def at(entry: dict[str, Any]) -> datetime:
    """Return a log event's timestamp."""
    return datetime.fromisoformat(entry["timestamp"])
