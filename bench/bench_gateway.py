"""Issue 2 benchmarks: gateway submit rate, end-to-end throughput and idle latency, each with a baseline.

Run: .venv/bin/python bench/bench_gateway.py
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from taskgate.embedded_redis import EmbeddedRedis, free_port
from tests.harness import System, wait_until

ROOT = Path(__file__).resolve().parents[1]
CONCURRENCY = 32
JSON_HEADERS = {"Content-Type": "application/json"}
E2E_ROUNDS = 5
E2E_TASKS = 2000
_RUNS = itertools.count()
BARE_SERVER = """
import sys
from aiohttp import web
async def ok(request):
    await request.read()
    return web.json_response({"ok": True})
app = web.Application()
app.router.add_post("/v1/tasks", ok)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


async def hammer(url: str, total: int, body: dict) -> float:
    """POST ``body`` ``total`` times with CONCURRENCY in flight; return requests per second."""
    data = json.dumps(body).encode()  # encoded once: the load generator's cost is not what is measured
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        remaining = iter(range(total))

        async def one_worker() -> None:
            for _ in remaining:
                async with session.post(url, data=data, headers=JSON_HEADERS) as resp:
                    await resp.read()
                    assert resp.status in (200, 202), resp.status

        started = time.perf_counter()
        await asyncio.gather(*(one_worker() for _ in range(CONCURRENCY)))
        return total / (time.perf_counter() - started)


def tree_cpu_s(root: int) -> float:
    """Return the user+system CPU seconds used so far by ``root`` and every process below it (Linux /proc)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    tree, grew = {root}, True
    while grew:
        below = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= below
        grew = bool(below)
    return sum(ticks.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used per task by named process trees (and this process alone) between ``start`` and ``per_task``."""

    def __init__(self, roots: dict[str, int], self_name: str) -> None:
        self.roots = roots
        self.self_name = self_name
        self.before: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {**{name: tree_cpu_s(pid) for name, pid in self.roots.items()}, self.self_name: _own_cpu_s()}

    def start(self) -> None:
        self.before = self._now()

    def per_task_ms(self, tasks: int) -> str:
        used = {name: (cpu_s - self.before[name]) * 1000 / tasks for name, cpu_s in self._now().items()}
        return ", ".join(f"{name} {ms:.2f}" for name, ms in used.items()) + f" (total {sum(used.values()):.2f})"


def _own_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def wait_http(url: str) -> None:
    import urllib.request

    def up() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310  (a loopback http URL we built)
                return True
        except OSError as exc:
            return "HTTP Error" in str(exc)

    wait_until(up, timeout_s=30, what=url)


def bench_submit_rate(system: System, total: int) -> tuple[float, float]:
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port)])
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/tasks")
        asyncio.run(hammer(f"http://127.0.0.1:{port}/v1/tasks", 300, {}))  # warm-up
        bare_rate = asyncio.run(hammer(f"http://127.0.0.1:{port}/v1/tasks", total, {"task_name": "system.ping"}))
    finally:
        bare.terminate()
        bare.wait()
    body = {"task_name": "system.ping", "input_data": {}}
    asyncio.run(hammer(f"{system.base_url}/v1/tasks", 300, body))
    ours = asyncio.run(hammer(f"{system.base_url}/v1/tasks", total, body))
    return ours, bare_rate


class BareDramatiq:
    """The baseline: a plain Dramatiq worker (1 process, 8 threads) and ``send`` from this process."""

    def __init__(self, url: str, log_dir: Path, redis_pid: int) -> None:
        self.client = redis.Redis.from_url(url)
        self.redis_pid = redis_pid
        env = {**os.environ, "BENCH_REDIS_URL": url, "PYTHONPATH": str(ROOT)}
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "bench.bare_dramatiq", "--processes", "1", "--threads", "8"],
            env=env,
            cwd=ROOT,
            stdout=(log_dir / "bare.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        sys.path.insert(0, str(ROOT))
        os.environ["BENCH_REDIS_URL"] = url
        from bench import bare_dramatiq  # reads BENCH_REDIS_URL at import

        self.actor = bare_dramatiq.noop
        self.run(1)  # warm-up: the worker is up and has its connections

    def run(self, total: int, *, report: bool = False) -> float:
        """Send ``total`` messages and return messages per second until the last one is processed."""
        self.client.delete("bench:bare:done")
        meter = CpuMeter({"worker": self.worker.pid, "redis": self.redis_pid}, "sender")
        meter.start()
        started = time.perf_counter()
        for i in range(total):
            self.actor.send(i)
        wait_until(lambda: int(self.client.get("bench:bare:done") or 0) >= total, timeout_s=300, interval_s=0.005)
        rate = total / (time.perf_counter() - started)
        if report:
            print(f"  bare Dramatiq {rate:5.0f} msgs/s; CPU ms per message: {meter.per_task_ms(total)}")
        return rate

    def stop(self) -> None:
        self.worker.terminate()
        self.worker.wait()


class Completion:
    """Tell when every task has reached SUCCESS, reading only the oldest few still pending per poll.

    The queue is first in, first out, so tasks finish roughly in submission order: checking a window of
    the oldest pending ids keeps each poll to a handful of reads, about what the baseline's single GET
    costs, instead of re-reading thousands of records every few milliseconds on the CPUs being measured.
    """

    WINDOW = 64

    def __init__(self, client: redis.Redis, ids: list[str]) -> None:
        self.client = client
        self.pending = list(reversed(ids))  # the oldest at the end: pop() is cheap

    def all_done(self) -> bool:
        while self.pending:
            window = self.pending[-self.WINDOW :]
            with self.client.pipeline(transaction=False) as pipe:
                for task_id in window:
                    pipe.hget(f"workflow_state:{task_id}", "status:system.ping")
                statuses = pipe.execute()
            still = [task_id for task_id, status in zip(window, statuses, strict=True) if status != b"SUCCESS"]
            del self.pending[-self.WINDOW :]
            self.pending.extend(still)
            if still:
                return False
        return True


def bench_end_to_end(system: System, url: str, total: int, meter: CpuMeter | None = None) -> float:
    client = redis.Redis.from_url(url)
    run = next(_RUNS)
    ids = [f"e2e-{run}-{i}" for i in range(total)]  # new ids each run: a repeat would be a replay
    # Bodies are encoded before the clock starts, as a load generator such as wrk sends prepared requests.
    bodies = [json.dumps({"task_name": "system.ping", "task_id": i, "input_data": {}}).encode() for i in ids]

    async def submit_all() -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
            pending = iter(bodies)

            async def one() -> None:
                for data in pending:
                    async with session.post(f"{system.base_url}/v1/tasks", data=data, headers=JSON_HEADERS) as resp:
                        await resp.read()

            await asyncio.gather(*(one() for _ in range(CONCURRENCY)))

    if meter:
        meter.start()
    started = time.perf_counter()
    asyncio.run(submit_all())
    wait_until(Completion(client, ids).all_done, timeout_s=300, interval_s=0.005)
    rate = total / (time.perf_counter() - started)
    if meter:
        print(f"  taskgate      {rate:5.0f} tasks/s; CPU ms per task: {meter.per_task_ms(total)}")
    return rate


def bench_latency(system: System, url: str, rounds: int) -> tuple[list[float], list[float]]:
    client = redis.Redis.from_url(url)
    server_side, observed = [], []

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            for i in range(rounds):
                await asyncio.sleep(0.3)  # let the worker go idle, so its polling backoff would show
                task_id = f"lat-{i}"
                started = time.perf_counter()
                async with session.post(
                    f"{system.base_url}/v1/tasks",
                    json={"task_name": "system.ping", "task_id": task_id, "input_data": {}},
                ):
                    pass
                while client.hget(f"workflow_state:{task_id}", "status:system.ping") != b"SUCCESS":  # noqa: ASYNC110
                    await asyncio.sleep(0.001)
                observed.append((time.perf_counter() - started) * 1000)
                async with session.get(f"{system.base_url}/v1/tasks/{task_id}") as resp:
                    stage = (await resp.json())["stages"]["system.ping"]
                from datetime import datetime

                created = datetime.fromisoformat(stage["created_at"])
                finished = datetime.fromisoformat(stage["finished_at"])
                server_side.append((finished - created).total_seconds() * 1000)

    asyncio.run(run())
    return server_side, observed


def main() -> int:
    results: list[tuple[str, bool]] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        server = EmbeddedRedis(tmp_path / "redis", persist=False)
        server.start()
        try:
            share = tmp_path / "share"
            share.mkdir()
            system = System(
                server.url,
                share,
                tmp_path,
                {"TASKGATE_GPU_LOCK_MONITOR__ENABLED": "false", "TASKGATE_LOG_LEVEL": "warning"},
            )
            system.start_gateway()
            ours, bare = bench_submit_rate(system, 3000)
            ratio = ours / bare
            print(
                f"gateway submit: {ours:.0f} req/s vs bare aiohttp {bare:.0f} req/s -> ratio {ratio:.2f} "
                f"(target >= 0.15): {'PASS' if ratio >= 0.15 else 'FAIL'}"
            )
            results.append(("submit", ratio >= 0.15))
            redis.Redis.from_url(server.url).flushall()

            redis_pid = server.process.pid if server.process else 0
            bare_system = BareDramatiq(server.url, tmp_path, redis_pid)
            system.start_worker(processes=1, threads=8)
            wait_until(system.worker_pids, timeout_s=30, what="worker processes")
            bench_end_to_end(system, server.url, 50)  # warm-up
            roots = {"worker": system.procs["worker"].pid, "gateway": system.procs["gateway"].pid}
            meter = CpuMeter({**roots, "redis": redis_pid}, "client")
            # Alternate the two, best of each: on a shared 2-core machine single runs move by +-30 %.
            bare_runs, ours_runs = [], []
            for _ in range(E2E_ROUNDS):
                bare_runs.append(bare_system.run(E2E_TASKS, report=True))
                ours_runs.append(bench_end_to_end(system, server.url, E2E_TASKS, meter))
            bare_system.stop()
            bare_e2e, ours_e2e = max(bare_runs), max(ours_runs)
            ratio = ours_e2e / bare_e2e
            print(
                f"end to end (best of {E2E_ROUNDS} alternating runs of {E2E_TASKS}): {ours_e2e:.0f} tasks/s "
                f"(HTTP submit -> SUCCESS) vs bare Dramatiq {bare_e2e:.0f} msgs/s -> ratio {ratio:.2f} "
                f"(target >= 0.75): {'PASS' if ratio >= 0.75 else 'FAIL'}"
            )
            results.append(("e2e", ratio >= 0.75))
            paired = sorted(o / b for o, b in zip(ours_runs, bare_runs, strict=True))
            print(
                f"  the bench's noise: round-by-round ratios {paired[0]:.2f} .. {paired[-1]:.2f} "
                f"(median {statistics.median(paired):.2f}); bare Dramatiq alone ranged {min(bare_runs):.0f} .. "
                f"{max(bare_runs):.0f} msgs/s"
            )

            server_side, observed = bench_latency(system, server.url, 40)
            p50 = statistics.median(server_side)
            print(
                f"idle latency submit -> SUCCESS: p50 {p50:.1f} ms server-side (created_at -> finished_at), "
                f"p50 {statistics.median(observed):.1f} ms observed by the client, "
                f"max {max(observed):.1f} ms (target p50 <= 50 ms): {'PASS' if p50 <= 50 else 'FAIL'}"
            )
            results.append(("latency", p50 <= 50))
            system.stop()
        finally:
            server.stop()
    return 0 if all(ok for _, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
