"""Runs the monitor watches: who runs which stage where, heartbeats, and per-tier deadlines in sorted sets.

A run is one stage on one worker process, id ``{workflow_id}|{task_name}``. The CAS script that moves a
stage to RUNNING also tracks its run (``queue_start``, as effects), and the one that moves it on forgets it
(``queue_forget``). A host's sidecar heartbeats its runs (``SyncTracker.beat``); the monitor
reads only what is due (``AsyncTracker.due``), so a pass costs the same for 10 or 100,000 healthy runs.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import msgspec
import redis
import redis.asyncio as aioredis

from config import Settings, keys

TIERS = ("warning", "soft", "hard")
# The stage event the monitor adds when it re-queues a dead worker's stage under a new message.
REQUEUED_EVENT = "requeued"
_LUA_DIR = Path(__file__).with_name("lua")


class RunInfo(msgspec.Struct, kw_only=True):
    """One tracked run; ``limits_s`` are the tiers it was started under."""

    workflow_id: str
    task_name: str
    host: str
    pid: int
    started_ms: int
    attempt: int = 1
    message_id: str | None = None
    config_version: int = 0
    limits_s: dict[str, float] = msgspec.field(default_factory=dict)
    gpu_device: int | None = None
    fencing_token: int | None = None

    @property
    def run_id(self) -> str:
        """Return this run's id."""
        return run_id(self.workflow_id, self.task_name)


class Beat(msgspec.Struct, kw_only=True):
    """A run's last heartbeat as its sidecar saw it."""

    at_ms: int
    alive: bool
    progress: float | None = None


class Due(msgspec.Struct, kw_only=True):
    """The runs one pass must act on."""

    now_ms: int
    dead: list[str]
    hard: list[str]
    soft: list[str]
    warning: list[str]


_run_decoder = msgspec.json.Decoder(RunInfo)
_beat_decoder = msgspec.json.Decoder(Beat)
_encoder = msgspec.json.Encoder()


def run_id(workflow_id: str, task_name: str) -> str:
    """Return the id of a stage's run."""
    return f"{workflow_id}|{task_name}"


def limits_for(settings: Settings, task_name: str) -> dict[str, float]:
    """Return the warning, soft and hard limits (seconds) that apply to ``task_name``."""
    monitor = settings.gpu_lock_monitor
    levels = monitor.task_timeout_levels.get(task_name, monitor.timeout_levels)
    return dict(zip(TIERS, (levels.warning, levels.soft_timeout, levels.hard_timeout), strict=True))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@functools.cache
def _deadline_keys() -> tuple[str, ...]:
    return tuple(keys.run_deadlines(tier) for tier in TIERS)


def queue_start(effects: Any, info: RunInfo) -> None:
    """Track a started run as effects of its move to RUNNING.

    Its record, a first heartbeat, one deadline per tier (server time plus the tier's limit), and its entry in
    the host's runs.
    """
    effects.hset(keys.RUNS, info.run_id, _encoder.encode(info))
    effects.zadd_after(keys.RUN_HEARTBEATS, 0, info.run_id)
    for tier, key in zip(TIERS, _deadline_keys(), strict=True):
        effects.zadd_after(key, int(info.limits_s[tier] * 1000), info.run_id)
    effects.hset(keys.run_host(info.host), info.run_id, info.pid)


def queue_forget(pipe: Any, ids: list[str]) -> None:
    """Queue the commands that stop tracking ``ids`` (sync or async pipeline)."""
    if not ids:
        return
    pipe.hdel(keys.RUNS, *ids)
    pipe.hdel(keys.RUN_BEATS, *ids)
    pipe.zrem(keys.RUN_HEARTBEATS, *ids)
    for key in _deadline_keys():
        pipe.zrem(key, *ids)


class SyncTracker:
    """The worker side: track a run, note its GPU lease, forget it; the sidecar's heartbeat round."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._beat = client.register_script((_LUA_DIR / "beat.lua").read_text())

    def note_gpu(self, info: RunInfo) -> None:
        """Rewrite a tracked run's record (after its GPU lease was granted)."""
        self.client.hset(keys.RUNS, info.run_id, _encoder.encode(info))

    def end(self, info: RunInfo) -> None:
        """Stop tracking a run whose worker finished with it."""
        with self.client.pipeline(transaction=True) as pipe:
            queue_forget(pipe, [info.run_id])
            pipe.hdel(keys.run_host(info.host), info.run_id)
            pipe.execute()

    def host_runs(self, host: str) -> dict[str, int]:
        """Return the runs tracked on ``host``: run id -> pid."""
        return {_text(k): int(v) for k, v in self.client.hgetall(keys.run_host(host)).items()}

    def beat(self, host: str, runs: dict[str, bool], workers: list[str]) -> int:
        """Heartbeat ``runs`` (run id -> process alive) and ``workers`` ("host:pid"); return now ms."""
        args: list[Any] = [keys.EVENTS_KEPT, len(runs)]
        wf_keys = []
        for rid, alive in runs.items():
            workflow_id, _, task_name = rid.partition("|")
            args += [rid, 1 if alive else 0, task_name]
            wf_keys.append(keys.workflow_state(workflow_id))
        script_keys = [keys.RUNS, keys.RUN_HEARTBEATS, keys.RUN_BEATS, keys.run_host(host), keys.WORKERS, keys.EVENTS]
        script_keys += wf_keys
        return int(self._beat(keys=script_keys, args=[*args, *workers]))


class AsyncTracker:
    """The monitor and gateway side: what is due, run records, heartbeats."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._due = client.register_script((_LUA_DIR / "due.lua").read_text())

    async def due(self, heartbeat_timeout_ms: int, limit: int) -> Due:
        """Return the runs whose heartbeat is dead or whose tier deadline has passed (at most ``limit`` each)."""
        script_keys = [keys.RUN_HEARTBEATS, *_deadline_keys()]
        now, dead, hard, soft, warning = await self._due(keys=script_keys, args=[heartbeat_timeout_ms, limit])
        return Due(
            now_ms=int(now),
            dead=[_text(i) for i in dead],
            hard=[_text(i) for i in hard],
            soft=[_text(i) for i in soft],
            warning=[_text(i) for i in warning],
        )

    async def runs(self, ids: list[str]) -> dict[str, RunInfo]:
        """Return the records of those ``ids`` still tracked."""
        if not ids:
            return {}
        raws = await self.client.hmget(keys.RUNS, ids)
        return {rid: _run_decoder.decode(raw) for rid, raw in zip(ids, raws, strict=True) if raw is not None}

    async def forget(self, ids: list[str]) -> None:
        """Stop tracking ``ids``."""
        async with self.client.pipeline(transaction=True) as pipe:
            queue_forget(pipe, ids)
            await pipe.execute()

    async def done_with_tier(self, tier: str, ids: list[str]) -> None:
        """Remove ``ids`` from one tier's deadlines once the tier has acted on them."""
        if ids:
            await self.client.zrem(keys.run_deadlines(tier), *ids)

    async def snapshot(self, limit: int) -> list[tuple[RunInfo, float, Beat | None]]:
        """Return up to ``limit`` tracked runs, oldest heartbeat first, with heartbeat ms and last beat."""
        scored: list[Any] = await self.client.zrange(keys.RUN_HEARTBEATS, 0, limit - 1, withscores=True)
        ids = [_text(m) for m, _ in scored]
        if not ids:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.RUNS, ids)
            pipe.hmget(keys.RUN_BEATS, ids)
            raws, beats = await pipe.execute()
        found = []
        for (_, score), raw, beat in zip(scored, raws, beats, strict=True):
            if raw is not None:
                found.append((_run_decoder.decode(raw), float(score), _beat_decoder.decode(beat) if beat else None))
        return found


def decode_run(raw: bytes) -> RunInfo:
    """Decode a run record."""
    return _run_decoder.decode(raw)


__all__ = [
    "REQUEUED_EVENT",
    "TIERS",
    "AsyncTracker",
    "Beat",
    "Due",
    "RunInfo",
    "SyncTracker",
    "decode_run",
    "limits_for",
    "queue_forget",
    "queue_start",
    "run_id",
]
