"""Read models of the monitoring API, built from Redis (lock status, tracked runs, monitor journal)."""

from __future__ import annotations

from typing import Any

import msgspec
import redis.asyncio as aioredis

from config import Settings, keys
from gpu_lock import GpuLockStatus, aread_status
from monitor import current_leader, recent_events
from redis_io import text
from state.task_metrics import parse_figures
from state.tracking import AsyncTracker

_RUNS_SHOWN = 1000
_EVENTS_SHOWN = 100
_HISTORY_SHOWN = 60


async def _now_ms(client: aioredis.Redis) -> int:
    seconds, micros = await client.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def lock_view(client: aioredis.Redis, settings: Settings) -> dict[str, Any]:
    """Per device: holders, waiters, free or not; plus the recent force releases."""
    status = await aread_status(client, settings.gpu_lock)
    devices = [
        {
            "device": d.device,
            "capacity": d.capacity,
            "free": d.held < d.capacity,
            "by_memory": d.by_memory,
            "held": d.held,
            "reserve_mb": d.reserve_mb,
            "holders": msgspec.to_builtins(d.holders),
            "waiters": len(d.waiters),
            "waiting": msgspec.to_builtins(d.waiters),
        }
        for d in status.devices
    ]
    return {
        "server_time": status.server_time,
        "last_fencing_token": status.last_fencing_token,
        "devices": devices,
        "force_releases": msgspec.to_builtins(status.force_releases[:20]),
        "footprints": msgspec.to_builtins(status.footprints),
        "wait_by_task": {
            name: {"count": h.count, "mean_s": round(h.sum_s / h.count, 6) if h.count else None}
            for name, h in status.wait_by_task.items()
        },
    }


async def heartbeats_view(client: aioredis.Redis, settings: Settings) -> dict[str, Any]:
    """Tracked runs with their last heartbeat, split by the heartbeat timeout into alive and dead."""
    beat = settings.gpu_lock_monitor.heartbeat
    now = await _now_ms(client)
    alive: list[dict[str, Any]] = []
    dead: list[dict[str, Any]] = []
    for run, score, last in await AsyncTracker(client).snapshot(_RUNS_SHOWN):
        age_s = (now - score) / 1000 if score > 0 else None
        entry = {
            "task_id": run.workflow_id,
            "task_name": run.task_name,
            "host": run.host,
            "pid": run.pid,
            "attempt": run.attempt,
            "run_time_s": round((now - run.started_ms) / 1000, 3),
            "last_heartbeat_age_s": None if age_s is None else round(age_s, 3),
            "progress": last.progress if last else None,
            "process_alive": last.alive if last else None,
            "gpu_device": run.gpu_device,
            "fencing_token": run.fencing_token,
        }
        (dead if age_s is None or age_s > beat.timeout else alive).append(entry)
    return {"interval_s": beat.interval, "timeout_s": beat.timeout, "alive": alive, "dead": dead}


async def timeouts_view(client: aioredis.Redis, settings: Settings) -> dict[str, Any]:
    """Tier settings and recent tier events."""
    monitor = settings.gpu_lock_monitor
    events = [msgspec.to_builtins(e) for e in await recent_events(client, _EVENTS_SHOWN)]
    return {
        "timeout_levels": msgspec.to_builtins(monitor.timeout_levels),
        "task_timeout_levels": msgspec.to_builtins(monitor.task_timeout_levels),
        "heartbeat": msgspec.to_builtins(monitor.heartbeat),
        "requeue_dead_tasks": monitor.requeue_dead_tasks,
        "events": events,
    }


def _lock_stats(status: GpuLockStatus) -> list[dict[str, Any]]:
    found = []
    for d in status.devices:
        c = d.counters
        tries = c.get("acquisitions_total", 0) + c.get("timeouts_total", 0)
        found.append(
            {
                "device": d.device,
                "counters": c,
                "acquisition_success_rate": round(c.get("acquisitions_total", 0) / tries, 4) if tries else None,
                "wait_seconds": msgspec.to_builtins(d.wait_seconds),
                "hold_seconds": msgspec.to_builtins(d.hold_seconds),
                "mean_wait_s": d.wait_seconds.sum_s / d.wait_seconds.count if d.wait_seconds.count else None,
                "mean_hold_s": d.hold_seconds.sum_s / d.hold_seconds.count if d.hold_seconds.count else None,
            }
        )
    return found


async def statistics_view(client: aioredis.Redis, settings: Settings) -> dict[str, Any]:
    """Lock statistics with their history, task outcomes and run times, and the monitor's counters."""
    status = await aread_status(client, settings.gpu_lock)
    async with client.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.TASK_METRICS)
        pipe.hgetall(keys.MONITOR_STATS)
        pipe.lrange(keys.MONITOR_HISTORY, 0, _HISTORY_SHOWN - 1)
        raw_tasks, raw_stats, history = await pipe.execute()
    tasks = parse_figures(raw_tasks)
    run_times = tasks.histograms.get("run_seconds", {})
    return {
        "gpu_locks": _lock_stats(status),
        "any_device_timeouts_total": status.any_device_timeouts_total,
        "tasks": {
            "finished": [{"task_name": t, "outcome": o, "count": n} for (t, o), n in sorted(tasks.finished.items())],
            "mean_run_s": {t: h.sum_s / h.count for t, h in run_times.items() if h.count},
        },
        "monitor": {text(k): text(v) for k, v in raw_stats.items()},
        "history": [msgspec.json.decode(raw) for raw in history],
    }


async def health_report(client: aioredis.Redis, settings: Settings) -> dict[str, Any]:
    """Overall status and the issues found: ``ok``, ``degraded`` (warnings) or ``critical``."""
    monitor = settings.gpu_lock_monitor
    now = await _now_ms(client)
    status = await aread_status(client, settings.gpu_lock)
    async with client.pipeline(transaction=False) as pipe:
        pipe.zcount(keys.WORKERS, now - int(monitor.heartbeat.timeout * 1000), "+inf")
        pipe.zcount(keys.RUN_HEARTBEATS, "-inf", now - int(monitor.heartbeat.timeout * 1000))
        pipe.zcount(keys.RUN_CHECKS, "-inf", now - int(2 * monitor.monitor_interval * 1000))
        workers, dead, overdue = await pipe.execute()
    issues: list[dict[str, Any]] = []
    if not workers:
        issues.append(_issue("critical", "no_workers_alive", "no worker process has been seen alive"))
    if monitor.enabled and await current_leader(client) is None:
        issues.append(_issue("warning", "no_monitor", "no monitor holds the leader lease"))
    if dead:
        issues.append(_issue("warning", "dead_heartbeats", f"{dead} running stage(s) have no heartbeat"))
    if overdue:
        issues.append(_issue("warning", "timeout_tier_overdue", f"{overdue} run(s) past a timeout tier not acted on"))
    for d in status.devices:
        for h in d.holders:
            if h.age_s > monitor.task_timeout_levels.get(h.task_name, monitor.timeout_levels).hard_timeout:
                issues.append(
                    _issue(
                        "critical",
                        "lease_past_hard_tier",
                        f"device {d.device}: lease {h.fencing_token} held {h.age_s:.0f} s",
                    )
                )
    level = "critical" if any(i["severity"] == "critical" for i in issues) else "degraded" if issues else "ok"
    return {"status": level, "issues": issues, "workers_alive": int(workers), "server_time_ms": now}


def _issue(severity: str, code: str, detail: str) -> dict[str, Any]:
    return {"severity": severity, "code": code, "detail": detail}
