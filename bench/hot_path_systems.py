"""The systems the hot-path benchmark (``bench/bench_hot_path.py``) measures, and its CPU meter.

``Bare``: bare Dramatiq (one worker process, 8 threads, messages sent from the bench); ``BareHttp``: the HTTP
part of a submit alone (``bench/bare_http.py``); ``submit_pings``: the bench's HTTP client; ``CpuMeter``: CPU per
process from ``/proc/PID/stat``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.message import Message

from taskgate.embedded_redis import free_port
from tests.harness import wait_until

ROOT = Path(__file__).resolve().parents[1]
CONCURRENCY = 8  # HTTP submits in flight


class Bare:
    """Bare Dramatiq: one worker process with 8 threads on ``url``; messages sent from this process to ``url``."""

    def __init__(self, url: str, direct: redis.Redis, log_dir: Path) -> None:
        self.direct = direct  # the bench's own reads (the done counter) go straight to Redis
        env = {**os.environ, "BENCH_REDIS_URL": url, "PYTHONPATH": str(ROOT)}
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "bench.bare_dramatiq", "--processes", "1", "--threads", "8"],
            env=env,
            cwd=ROOT,
            stdout=(log_dir / f"bare-{len(os.listdir(log_dir))}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.broker = RedisBroker(url=url)
        self.polls = 0
        self.run(1)

    def run(self, total: int) -> float:
        """Send ``total`` no-op messages; return messages per second until the worker has run them all."""
        self.direct.delete("bench:bare:done")
        started = time.perf_counter()
        for i in range(total):
            self.broker.enqueue(Message(queue_name="bare", actor_name="noop", args=(i,), kwargs={}, options={}))
        wait_until(self._done(total), timeout_s=300, interval_s=0.005)
        return total / (time.perf_counter() - started)

    def _done(self, total: int) -> Any:
        def done() -> bool:
            self.polls += 1
            return int(self.direct.get("bench:bare:done") or 0) >= total

        return done

    def stop(self) -> None:
        self.worker.terminate()
        self.worker.wait(30)
        self.broker.close()


_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def _stat_cpu_s(path: str) -> float:
    """Return utime + stime (fields 14 and 15) of a ``/proc/.../stat`` file in seconds; 0 when it is gone."""
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * _TICK_S


def cpu_s(pid: int) -> float:
    """Return the CPU seconds (user + system) ``pid`` and the live processes below it have used."""
    try:
        pids = [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
    except psutil.NoSuchProcess:
        return 0.0
    return sum(_stat_cpu_s(f"/proc/{one}/stat") for one in pids)


class CpuMeter:
    """CPU time per process group between ``start`` and ``stop``.

    The bench's own process is the client, less its proxy thread (``proxy_tid``), which is not counted: the
    systems compared both reach Redis through it.
    """

    def __init__(self, pids: dict[str, int], proxy_tid: int | None) -> None:
        self.pids = pids
        self.proxy_tid = proxy_tid
        self.before: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        now = {name: cpu_s(pid) for name, pid in self.pids.items()}
        times = os.times()
        proxy = _stat_cpu_s(f"/proc/self/task/{self.proxy_tid}/stat") if self.proxy_tid else 0.0
        now["client"] = times.user + times.system - proxy
        return now

    def start(self) -> None:
        self.before = self._now()

    def stop(self) -> None:
        after = self._now()
        self.used = {name: after[name] - self.before[name] for name in after}

    def describe(self, n: int) -> str:
        parts = ", ".join(f"{name} {used / n * 1000:.3f}" for name, used in self.used.items())
        return f"{sum(self.used.values()) / n * 1000:.3f} ms CPU per task ({parts})"


async def submit_pings(base_url: str, ids: list[str], concurrency: int) -> None:
    bodies = iter(json.dumps({"task_name": "system.ping", "task_id": i, "input_data": {}}).encode() for i in ids)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def one() -> None:
            for data in bodies:
                async with session.post(f"{base_url}/v1/tasks", data=data, headers=headers) as resp:
                    await resp.read()
                    assert resp.status == 202, await resp.text()

        await asyncio.gather(*(one() for _ in range(concurrency)))


class BareHttp:
    """``bench/bare_http.py`` on a free port: the HTTP part of a submit and nothing else."""

    def __init__(self, log_dir: Path) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.bare_http", str(port)],
            cwd=ROOT,
            stdout=(log_dir / "bare-http.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: _answers(self.url), timeout_s=30, what="the bare HTTP server")

    def run(self, total: int) -> CpuMeter:
        """POST ``total`` submits, 8 at a time; return the server's and this client's CPU for them."""
        meter = CpuMeter({"server": self.process.pid}, None)
        meter.start()
        asyncio.run(submit_pings(self.url, [f"http-{i}" for i in range(total)], CONCURRENCY))
        meter.stop()
        return meter

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def _answers(url: str) -> bool:
    try:
        asyncio.run(submit_pings(url, ["probe"], 1))
    except (aiohttp.ClientError, OSError):
        return False
    return True
