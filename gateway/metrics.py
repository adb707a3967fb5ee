"""Prometheus metrics (base units; bounded labels): this gateway's counters plus figures read from Redis.

Worker-side figures (task outcomes and run times, queue waits, lease waits and holds, heartbeats,
tier events, workers alive) live in Redis, written by the lifecycle, the lock, the sidecar and the
monitor; ``metrics_middleware`` reads them in two round trips when ``/metrics`` is scraped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis.asyncio as aioredis
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from actors.registry import QUEUES, REGISTRY
from config import Settings, keys
from config.queueing import PRIORITIES
from gateway.queue_state import PUT_BACK
from gpu_lock import GpuLockStatus, aread_status
from redis_io import text
from state.task_metrics import TaskFigures, TaskHistogram, parse_figures

log = structlog.get_logger(__name__)

_GPU_COUNTERS = {
    "acquisitions_total": "Leases granted.",
    "timeouts_total": "Waits for a lease that ran out of max_wait_time.",
    "expired_total": "Leases that expired without being renewed or released.",
    "force_releases_total": "Leases force-released by the monitor or an operator.",
}


class _Snapshot:
    """Figures read from Redis at the last scrape."""

    def __init__(self) -> None:
        self.redis_up = False
        self.tasks: TaskFigures | None = None
        self.locks: GpuLockStatus | None = None
        self.queue_depth: dict[str, int] = {}
        self.queued: dict[tuple[str, str], int] = {}  # (queue, priority or put_back) -> messages
        self.paused: set[str] = set()
        self.drained_hosts = 0
        self.running = 0
        self.tier_events: dict[str, int] = {}
        self.oldest_heartbeat_s = 0.0
        self.dead_heartbeats = 0
        self.workers_alive = 0
        self.leader = False
        self.storage_bytes = 0
        self.storage_workflows = 0


class _RedisCollector(Collector):
    """Yield the snapshot's figures as metric families."""

    def __init__(self, snapshot: _Snapshot) -> None:
        self.snap = snapshot

    def collect(self) -> Iterator[Metric]:
        """Yield every family; only ``taskgate_redis_up`` when Redis did not answer."""
        snap = self.snap
        yield _gauge("taskgate_redis_up", "1 when Redis answered at this scrape.", {(): int(snap.redis_up)})
        if not snap.redis_up:
            return
        yield from _task_families(snap.tasks)
        yield _gauge(
            "taskgate_queue_depth",
            "Messages waiting in each queue.",
            {(q,): n for q, n in snap.queue_depth.items()},
            ["queue"],
        )
        yield _gauge(
            "taskgate_queued_messages",
            "Messages waiting by queue and priority (put_back: put back by a worker, retried or handed over).",
            {k: float(n) for k, n in snap.queued.items()},
            ["queue", "priority"],
        )
        yield _gauge(
            "taskgate_queue_paused",
            "1 while a queue is paused (nothing starts from it).",
            {(q,): float(q in snap.paused) for q in snap.queue_depth},
            ["queue"],
        )
        yield _gauge("taskgate_worker_hosts_drained", "Worker hosts drained now.", {(): snap.drained_hosts})
        yield _gauge("taskgate_tasks_running", "Stages running now (tracked by the monitor).", {(): snap.running})
        yield _counter(
            "taskgate_timeout_tier_events",
            "Monitor events by tier (warning, soft, hard, dead, lease).",
            {(t,): n for t, n in snap.tier_events.items()},
            ["tier"],
        )
        yield _gauge(
            "taskgate_heartbeat_oldest_age_seconds",
            "Age of the oldest heartbeat of a running stage.",
            {(): snap.oldest_heartbeat_s},
        )
        yield _gauge(
            "taskgate_heartbeats_dead",
            "Running stages whose heartbeat is older than the timeout.",
            {(): snap.dead_heartbeats},
        )
        yield _gauge(
            "taskgate_workers_alive", "Worker processes seen alive by their sidecar.", {(): snap.workers_alive}
        )
        yield _gauge(
            "taskgate_monitor_leader_present", "1 when a monitor holds the leader lease.", {(): int(snap.leader)}
        )
        yield _gauge(
            "taskgate_storage_bytes",
            "Bytes under workflows/ on the storage root, as measured when each workflow's stages ended.",
            {(): snap.storage_bytes},
        )
        yield _gauge(
            "taskgate_storage_workflows",
            "Workflows whose folder is kept on the storage root.",
            {(): snap.storage_workflows},
        )
        if snap.locks is not None:
            yield from _lock_families(snap.locks)


def _gauge(name: str, doc: str, values: dict[tuple[str, ...], float], labels: list[str] | None = None) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=labels or [])
    for label_values, value in values.items():
        family.add_metric(list(label_values), value)
    return family


def _counter(name: str, doc: str, values: dict[tuple[str, ...], float], labels: list[str] | None = None) -> Metric:
    family = CounterMetricFamily(name, doc, labels=labels or [])
    for label_values, value in values.items():
        family.add_metric(list(label_values), value)
    return family


def _histogram(name: str, doc: str, label: str, values: dict[str, TaskHistogram]) -> Metric:
    family = HistogramMetricFamily(name, doc, labels=[label])
    for label_value, hist in values.items():
        family.add_metric([label_value], [(le, float(n)) for le, n in hist.buckets], hist.sum_s)
    return family


def _task_families(tasks: TaskFigures | None) -> Iterator[Metric]:
    if tasks is None:
        return
    yield _counter(
        "taskgate_tasks_finished",
        "Stages that ended, by task_name and outcome.",
        {(t, o): n for (t, o), n in tasks.finished.items()},
        ["task_name", "outcome"],
    )
    yield _histogram(
        "taskgate_task_run_seconds",
        "Run time of finished stages.",
        "task_name",
        tasks.histograms.get("run_seconds", {}),
    )
    yield _histogram(
        "taskgate_task_queue_wait_seconds",
        "Time from queued to started.",
        "task_name",
        tasks.histograms.get("queue_wait_seconds", {}),
    )


def _lock_families(locks: GpuLockStatus) -> Iterator[Metric]:
    for name, doc in _GPU_COUNTERS.items():
        yield _counter(
            f"taskgate_gpu_lease_{name.removesuffix('_total')}",
            doc,
            {(str(d.device),): d.counters.get(name, 0) for d in locks.devices},
            ["gpu"],
        )
    yield _gauge(
        "taskgate_gpu_lease_holders",
        "Leases held now.",
        {(str(d.device),): len(d.holders) for d in locks.devices},
        ["gpu"],
    )
    yield _gauge(
        "taskgate_gpu_lease_oldest_age_seconds",
        "Age of the oldest lease held (0 when free).",
        {(str(d.device),): max((h.age_s for h in d.holders), default=0.0) for d in locks.devices},
        ["gpu"],
    )
    yield _gauge(
        "taskgate_gpu_lease_waiters",
        "Callers waiting for a lease.",
        {(str(d.device),): len(d.waiters) for d in locks.devices},
        ["gpu"],
    )
    memory = [d for d in locks.devices if d.by_memory]
    if memory:
        mib = 1024 * 1024
        yield _gauge(
            "taskgate_gpu_memory_capacity_bytes",
            "Memory a device leases out (memory_mb less the reserve).",
            {(str(d.device),): d.capacity * mib for d in memory},
            ["gpu"],
        )
        yield _gauge(
            "taskgate_gpu_memory_held_bytes",
            "Memory held by leases now.",
            {(str(d.device),): d.held * mib for d in memory},
            ["gpu"],
        )
        yield _gauge(
            "taskgate_gpu_memory_free_bytes",
            "Memory no lease holds now (can be negative right after a capacity was lowered).",
            {(str(d.device),): (d.capacity - d.held) * mib for d in memory},
            ["gpu"],
        )
    waits = HistogramMetricFamily(
        "taskgate_gpu_lease_wait_by_task_seconds", "Lease waits by task type.", labels=["task_name"]
    )
    for task_name, hist in locks.wait_by_task.items():
        waits.add_metric([task_name], [(le, float(n)) for le, n in hist.buckets], hist.sum_s)
    yield waits
    yield _gauge(
        "taskgate_gpu_memory_measured_bytes",
        "The last measured GPU memory peak of a task type and model.",
        {(f.task_name, f.model or ""): f.measured_mb * 1024 * 1024 for f in locks.footprints},
        ["task_name", "model"],
    )
    for kind in ("wait", "hold"):
        family = HistogramMetricFamily(f"taskgate_gpu_lease_{kind}_seconds", f"Lease {kind} times.", labels=["gpu"])
        for d in locks.devices:
            hist = d.wait_seconds if kind == "wait" else d.hold_seconds
            family.add_metric([str(d.device)], [(le, float(n)) for le, n in hist.buckets], hist.sum_s)
        yield family


class GatewayMetrics:
    """Counters kept by this gateway, and the Redis figures refreshed at each scrape."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.tasks_submitted = Counter(
            "taskgate_tasks_submitted_total", "Tasks accepted by POST /v1/tasks.", ["task_name"], registry=self.registry
        )
        self._submitted = {name: self.tasks_submitted.labels(task_name=name) for name in REGISTRY}
        self.event_clients = Gauge(
            "taskgate_event_clients", "Clients of the live event streams on this gateway.", registry=self.registry
        )
        self.event_clients_dropped = Counter(
            "taskgate_event_clients_dropped_total",
            "Event stream clients dropped for falling events.client_queue events behind.",
            registry=self.registry,
        )
        self.submits_throttled = Counter(
            "taskgate_submits_throttled_total",
            "Submits refused with 429 because the API key was at a limit (limit: e.g. max_queued).",
            ["key", "limit"],
            registry=self.registry,
        )
        self.bulk_tasks = Counter(
            "taskgate_bulk_tasks_total",
            "Tasks retried or cancelled by POST /v1/tasks/retry and /cancel (not dry runs).",
            ["action"],
            registry=self.registry,
        )
        self.snapshot = _Snapshot()
        self.registry.register(_RedisCollector(self.snapshot))

    def bulk(self, action: str, count: int) -> None:
        """Count the tasks a bulk action applied to."""
        self.bulk_tasks.labels(action=action).inc(count)

    def submitted(self, task_name: str, count: int = 1) -> None:
        """Count accepted submits (a batch counts its items)."""
        child = self._submitted.get(task_name) or self.tasks_submitted.labels(task_name=task_name)
        child.inc(count)

    def throttled(self, key: str, limit: str) -> None:
        """Count one submit refused at a limit of ``key``."""
        self.submits_throttled.labels(key=key, limit=limit).inc()

    async def refresh(self, client: aioredis.Redis, settings: Settings) -> None:
        """Read the Redis figures for the next ``render`` (``taskgate_redis_up`` 0 when Redis fails)."""
        try:
            self._adopt(await _read(client, settings), await aread_status(client, settings.gpu_lock))
        except (RedisError, OSError) as exc:
            log.warning("metrics_redis_unavailable", error=str(exc))
            self.snapshot.redis_up = False

    def _adopt(self, raw: list[Any], locks: GpuLockStatus) -> None:
        snap = self.snapshot
        seconds, micros = raw[0]
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        snap.tasks = parse_figures(raw[1])
        snap.queue_depth = {q: int(n) for q, n in zip(QUEUES, raw[2 : 2 + len(QUEUES)], strict=True)}
        rest = raw[2 + len(QUEUES) :]
        snap.running = int(rest[0])
        stats = {text(k): text(v) for k, v in rest[1].items()}
        snap.tier_events = {k.split(":", 1)[1]: int(v) for k, v in stats.items() if k.startswith("tier_events_total:")}
        oldest = rest[2]
        snap.oldest_heartbeat_s = max(0.0, (now_ms - oldest[0][1]) / 1000) if oldest else 0.0
        snap.dead_heartbeats = int(rest[3])
        snap.workers_alive = int(rest[4])
        snap.leader = bool(rest[5])
        snap.storage_bytes = int(rest[6] or 0)
        snap.storage_workflows = int(rest[7])
        bands = rest[8 : 8 + len(QUEUES) * len(PRIORITIES)]
        snap.queued = {(q, PUT_BACK): n for q, n in snap.queue_depth.items()}
        for index, count in enumerate(bands):
            queue, priority = QUEUES[index // len(PRIORITIES)], PRIORITIES[index % len(PRIORITIES)]
            snap.queued[queue, priority] = int(count)
            snap.queue_depth[queue] += int(count)
        snap.paused = {text(q) for q in rest[-2]}
        snap.drained_hosts = int(rest[-1])
        snap.locks = locks
        snap.redis_up = True

    def render(self) -> bytes:
        """Return the text exposition."""
        return generate_latest(self.registry)


async def _read(client: aioredis.Redis, settings: Settings) -> list[Any]:
    seconds, _micros = await client.time()
    now_ms = int(seconds) * 1000 + int(_micros) // 1000
    timeout_ms = int(settings.gpu_lock_monitor.heartbeat.timeout * 1000)
    async with client.pipeline(transaction=False) as pipe:
        pipe.time()
        pipe.hgetall(keys.TASK_METRICS)
        for queue in QUEUES:
            pipe.llen(f"{keys.DRAMATIQ_NAMESPACE}:{queue}")
        pipe.zcard(keys.RUN_CHECKS)  # one timeout check per tracked run
        pipe.hgetall(keys.MONITOR_STATS)
        pipe.zrange(keys.RUN_HEARTBEATS, 0, 0, withscores=True)
        pipe.zcount(keys.RUN_HEARTBEATS, "-inf", now_ms - timeout_ms)
        pipe.zcount(keys.WORKERS, now_ms - timeout_ms, "+inf")
        pipe.exists(keys.MONITOR_LEADER)
        pipe.get(keys.STORAGE_TOTAL)
        pipe.hlen(keys.STORAGE_BYTES)
        for queue in QUEUES:
            for priority in PRIORITIES:
                pipe.zcard(keys.lane_keys(queue, priority)[2])
        pipe.hkeys(keys.PAUSED_QUEUES)
        pipe.hlen(keys.DRAINED_HOSTS)
        return list(await pipe.execute())
