"""Issue 21 benchmark: the Redis cost of one no-op task, and what it does to throughput.

1. Commands, round trips and CPU per task: ``system.ping`` submitted over HTTP (500, 8 at a time) through the
   whole hot path (submit, fetch, start, end, ack, events, metrics, indexes), counted with ``INFO
   commandstats`` (a command inside a Lua script counts as one, as does the EVALSHA that runs it) and with a
   proxy in front of Redis that counts request turns (``bench.redis_proxy``); beside bare Dramatiq's for
   the same number of no-op messages. The bench's own reads (waiting for the tasks) and the baseline
   actor's counter are left out. CPU per task per process (gateway, worker, Redis, the bench's client), from
   ``/proc/PID/stat`` (utime + stime, a process and every process below it) before and after the counted
   tasks: unlike throughput, not moved much by other load on the machine.
2. CPU per task per process, the median of alternating rounds of ``CPU_TASKS`` no-op tasks (taskgate, HTTP submit
   8 at a time) and as many bare Dramatiq messages, both straight to Redis; and the HTTP floor: the same POSTs
   answered by a bare aiohttp handler (``bench/bare_http.py``). That floor plus bare Dramatiq's CPU per message is
   what any system with an HTTP submit in front of Dramatiq spends at least, so on this machine's cores it bounds
   such a system's throughput: printed beside the end-to-end ratios.
3. End to end, the median of alternating rounds against bare Dramatiq and Celery in the same run.
4. The same against bare Dramatiq with Redis behind 1 ms of added latency (both through the same proxy):
   round trips are what that shows.

Run: .venv/bin/python -m bench hot_path
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_celery import CeleryBaseline
from bench.bench_gateway import bench_end_to_end
from bench.hot_path_systems import Bare, BareHttp, CpuMeter, submit_pings
from bench.redis_proxy import RedisProxy
from taskgate.embedded_redis import EmbeddedRedis
from tests.harness import System, wait_until

COUNTED = 500
COUNT_CONCURRENCY = 8
ROUNDS = 5
TASKS = 2000
CPU_ROUNDS = 3
CPU_TASKS = 1000
DELAYED_ROUNDS = 3
DELAYED_TASKS = 1000
DELAY_S = 0.001
TARGET_COMMANDS = 30
TARGET_BARE = 1.2
TARGET_CELERY = 2.5
ENV = {"TASKGATE_GPU_LOCK_MONITOR__ENABLED": "false", "TASKGATE_LOG_LEVEL": "warning"}


def command_counts(client: redis.Redis) -> Counter[str]:
    """Return the server's calls per command (``INFO commandstats``)."""
    stats: dict[str, Any] = client.info("commandstats")  # type: ignore[assignment]
    return Counter({name.removeprefix("cmdstat_").upper(): int(v["calls"]) for name, v in stats.items()})


def _wait_succeeded(direct: redis.Redis, ids: list[str]) -> int:
    """Wait until every task is SUCCESS; return how many HGETs that took (they are the bench's, not the path's)."""
    pending, sent = list(ids), 0

    def done() -> bool:
        nonlocal pending, sent
        with direct.pipeline(transaction=False) as pipe:
            for task_id in pending[:64]:
                pipe.hget(f"workflow_state:{task_id}", "status:system.ping")
            statuses = pipe.execute()
        sent += len(statuses)
        still = [t for t, s in zip(pending[:64], statuses, strict=True) if s != b"SUCCESS"]
        pending = still + pending[64:]
        return not pending

    wait_until(done, timeout_s=120, interval_s=0.01)
    return sent


def _per_task(before: Counter[str], after: Counter[str], own: Counter[str], n: int) -> tuple[float, Counter[str]]:
    used = after - before - own
    for name in ("INFO", "CONFIG"):
        used.pop(name, None)
    return sum(used.values()) / n, used


def _describe(used: Counter[str], n: int) -> str:
    return ", ".join(f"{name} {calls / n:.1f}" for name, calls in used.most_common() if calls / n >= 0.05)


def count_per_task(server: EmbeddedRedis, tmp: Path) -> float:
    """Print commands and round trips per no-op task, taskgate and bare Dramatiq; return taskgate's commands."""
    direct = redis.Redis.from_url(server.url)
    proxy = RedisProxy(server.port)
    proxy.start()
    system = System(proxy.url, tmp / "share", tmp, ENV)
    try:
        system.start_gateway()
        system.start_worker(processes=1, threads=8)
        wait_until(system.worker_pids, timeout_s=30, what="worker processes")
        asyncio.run(submit_pings(system.base_url, [f"warm-{i}" for i in range(50)], COUNT_CONCURRENCY))
        _wait_succeeded(direct, [f"warm-{i}" for i in range(50)])
        ids = [f"count-{i}" for i in range(COUNTED)]
        pids = {"gateway": system.procs["gateway"].pid, "worker": system.procs["worker"].pid}
        ours_cpu = CpuMeter({**pids, "redis": server.process.pid}, proxy._thread.native_id)
        before, trips = command_counts(direct), proxy.round_trips
        ours_cpu.start()
        asyncio.run(submit_pings(system.base_url, ids, COUNT_CONCURRENCY))
        polls = _wait_succeeded(direct, ids)
        ours_cpu.stop()
        ours_trips = (proxy.round_trips - trips) / COUNTED
        ours, used = _per_task(before, command_counts(direct), Counter({"HGET": polls}), COUNTED)
    finally:
        system.stop()
    print(f"taskgate: {ours:.1f} Redis commands and {ours_trips:.1f} round trips per no-op task")
    print(f"  by command: {_describe(used, COUNTED)}")
    print(f"  {ours_cpu.describe(COUNTED)}")

    bare = Bare(proxy.url, direct, tmp)
    try:
        bare_cpu = CpuMeter({"worker": bare.worker.pid, "redis": server.process.pid}, proxy._thread.native_id)
        before, trips, polls = command_counts(direct), proxy.round_trips, bare.polls
        bare_cpu.start()
        bare.run(COUNTED)
        bare_cpu.stop()
        bare_trips = (proxy.round_trips - trips) / COUNTED
        own = Counter({"GET": bare.polls - polls, "DEL": 1, "INCRBY": COUNTED})  # the bench's reads, the actor's count
        theirs, used = _per_task(before, command_counts(direct), own, COUNTED)
    finally:
        bare.stop()
        proxy.stop()
    print(f"bare Dramatiq: {theirs:.1f} Redis commands and {bare_trips:.1f} round trips per no-op message")
    print(f"  by command: {_describe(used, COUNTED)}")
    print(f"  {bare_cpu.describe(COUNTED)}")
    ok = ours <= TARGET_COMMANDS
    print(f"commands per task {ours:.1f} (target <= {TARGET_COMMANDS}): {'PASS' if ok else 'FAIL'}")
    return ours


def _median_cpu(meters: list[CpuMeter], n: int) -> str:
    """Describe the median CPU per task of each process over ``meters``' rounds."""
    names = list(meters[0].used)
    per = {name: statistics.median(m.used[name] for m in meters) / n * 1000 for name in names}
    parts = ", ".join(f"{name} {ms:.3f}" for name, ms in per.items())
    return f"{sum(per.values()):.3f} ms CPU per task ({parts})"


def cpu_per_task(server: EmbeddedRedis, tmp: Path) -> float:
    """Print the median CPU per task of each process, taskgate against bare Dramatiq, rounds alternating.

    Returns the floor (ms of CPU per task) of an HTTP submit in front of bare Dramatiq: the HTTP part alone
    plus bare Dramatiq's whole path, medians of the same rounds.
    """
    direct = redis.Redis.from_url(server.url)
    system = System(server.url, tmp / "share", tmp, ENV)
    ours: list[CpuMeter] = []
    theirs: list[CpuMeter] = []
    http: list[CpuMeter] = []
    bare_http = BareHttp(tmp)
    try:
        system.start_gateway()
        system.start_worker(processes=1, threads=8)
        wait_until(system.worker_pids, timeout_s=30, what="worker processes")
        bare = Bare(server.url, direct, tmp)
        asyncio.run(submit_pings(system.base_url, [f"cpu-warm-{i}" for i in range(100)], COUNT_CONCURRENCY))
        _wait_succeeded(direct, [f"cpu-warm-{i}" for i in range(100)])
        pids = {"gateway": system.procs["gateway"].pid, "worker": system.procs["worker"].pid}
        for r in range(CPU_ROUNDS):
            meter = CpuMeter({"worker": bare.worker.pid, "redis": server.process.pid}, None)
            meter.start()
            bare.run(CPU_TASKS)
            meter.stop()
            theirs.append(meter)
            ids = [f"cpu-{r}-{i}" for i in range(CPU_TASKS)]
            meter = CpuMeter({**pids, "redis": server.process.pid}, None)
            meter.start()
            asyncio.run(submit_pings(system.base_url, ids, COUNT_CONCURRENCY))
            _wait_succeeded(direct, ids)
            meter.stop()
            ours.append(meter)
            http.append(bare_http.run(CPU_TASKS))
        bare.stop()
    finally:
        system.stop()
        bare_http.stop()
    print(f"CPU per task ({CPU_ROUNDS} alternating rounds of {CPU_TASKS}, medians):")
    print(f"  taskgate: {_median_cpu(ours, CPU_TASKS)}")
    print(f"  bare Dramatiq: {_median_cpu(theirs, CPU_TASKS)}")
    print(f"  HTTP alone (bench/bare_http.py, the same POSTs): {_median_cpu(http, CPU_TASKS)}")
    floor = _median_total(http, CPU_TASKS) + _median_total(theirs, CPU_TASKS)
    cores = os.cpu_count() or 1
    print(
        f"  floor of an HTTP submit in front of bare Dramatiq: {floor:.3f} ms CPU per task; on {cores} cores "
        f"it bounds such a system at {cores / floor * 1000:.0f} tasks/s"
    )
    return floor


def _median_total(meters: list[CpuMeter], n: int) -> float:
    """Return the median over ``meters``' rounds of the CPU per task (ms), all processes together."""
    return statistics.median(sum(m.used.values()) for m in meters) / n * 1000


def _spread(ratios: list[float]) -> str:
    ordered = sorted(ratios)
    return f"median {statistics.median(ordered):.2f}, rounds {', '.join(f'{r:.2f}' for r in ordered)}"


def end_to_end(server: EmbeddedRedis, tmp: Path, floor_ms: float | None = None) -> bool:
    """Alternate taskgate, bare Dramatiq and Celery on the same Redis; print the median ratios.

    ``floor_ms`` (from ``cpu_per_task``): the bound it sets is printed against bare Dramatiq's rate here.
    """
    direct = redis.Redis.from_url(server.url)
    system = System(server.url, tmp / "share", tmp, ENV)
    try:
        system.start_gateway()
        system.start_worker(processes=1, threads=8)
        wait_until(system.worker_pids, timeout_s=30, what="worker processes")
        bare = Bare(server.url, direct, tmp)
        celery = CeleryBaseline(server.url, tmp)
        bench_end_to_end(system, server.url, 50)  # warm-up
        ours, plain, theirs = [], [], []
        for _ in range(ROUNDS):
            plain.append(bare.run(TASKS))
            theirs.append(celery.run(TASKS))
            ours.append(bench_end_to_end(system, server.url, TASKS))
        bare.stop()
        celery.stop()
    finally:
        system.stop()
    vs_bare = [o / b for o, b in zip(ours, plain, strict=True)]
    vs_celery = [o / c for o, c in zip(ours, theirs, strict=True)]
    print(
        f"end to end ({ROUNDS} alternating rounds of {TASKS}, medians): taskgate {statistics.median(ours):.0f} "
        f"tasks/s (HTTP submit -> SUCCESS), bare Dramatiq {statistics.median(plain):.0f} msgs/s, "
        f"Celery {statistics.median(theirs):.0f} tasks/s"
    )
    ok_bare = statistics.median(vs_bare) >= TARGET_BARE
    ok_celery = statistics.median(vs_celery) >= TARGET_CELERY
    print(f"  taskgate / bare Dramatiq: {_spread(vs_bare)} (target >= {TARGET_BARE}): {'PASS' if ok_bare else 'FAIL'}")
    print(f"  taskgate / Celery: {_spread(vs_celery)} (target >= {TARGET_CELERY}): {'PASS' if ok_celery else 'FAIL'}")
    if floor_ms:
        bound = (os.cpu_count() or 1) / floor_ms * 1000
        print(
            f"  the bench's floor: an HTTP submit in front of bare Dramatiq, doing nothing else, is bound here at "
            f"{bound:.0f} tasks/s = {bound / statistics.median(plain):.2f}x bare Dramatiq's median rate"
        )
    return ok_bare and ok_celery


def delayed(server: EmbeddedRedis, tmp: Path) -> None:
    """Taskgate against bare Dramatiq, both reaching Redis through a proxy that adds ``DELAY_S`` per request."""
    direct = redis.Redis.from_url(server.url)
    proxy = RedisProxy(server.port, delay_s=DELAY_S)
    proxy.start()
    system = System(proxy.url, tmp / "share", tmp, ENV)
    try:
        system.start_gateway()
        system.start_worker(processes=1, threads=8)
        wait_until(system.worker_pids, timeout_s=30, what="worker processes")
        bare = Bare(proxy.url, direct, tmp)
        bench_end_to_end(system, server.url, 50)  # warm-up
        ours, plain = [], []
        for _ in range(DELAYED_ROUNDS):
            plain.append(bare.run(DELAYED_TASKS))
            ours.append(bench_end_to_end(system, server.url, DELAYED_TASKS))
        bare.stop()
    finally:
        system.stop()
        proxy.stop()
    ratios = [o / b for o, b in zip(ours, plain, strict=True)]
    print(
        f"Redis behind {DELAY_S * 1000:.0f} ms ({DELAYED_ROUNDS} rounds of {DELAYED_TASKS}): taskgate "
        f"{statistics.median(ours):.0f} tasks/s, bare Dramatiq {statistics.median(plain):.0f} msgs/s; "
        f"taskgate / bare Dramatiq: {_spread(ratios)}"
    )


def main() -> int:
    parts = set(sys.argv[1:]) or {"count", "cpu", "e2e", "delayed"}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "share").mkdir()
        server = EmbeddedRedis(tmp_path / "redis", persist=False)
        server.start()
        try:
            if "count" in parts:
                ok = count_per_task(server, tmp_path) <= TARGET_COMMANDS and ok
            floor = None
            if "cpu" in parts:
                redis.Redis.from_url(server.url).flushall()
                floor = cpu_per_task(server, tmp_path)
            if "e2e" in parts:
                redis.Redis.from_url(server.url).flushall()
                ok = end_to_end(server, tmp_path, floor) and ok
            if "delayed" in parts:
                redis.Redis.from_url(server.url).flushall()
                delayed(server, tmp_path)
        finally:
            server.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
