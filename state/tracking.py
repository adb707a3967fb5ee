"""Runs the monitor watches: who runs which stage where, heartbeats, and when to look at their timeout tiers.

A run is one stage on one worker process, id ``{workflow_id}|{task_name}``. The CAS script that moves a
stage to RUNNING also tracks its run (``queue_start``, as effects), and the one that moves it on forgets it
(``queue_forget``). A host's sidecar heartbeats its runs (``SyncTracker.beat``); the monitor
reads only what is due (``AsyncTracker.due``), so a pass costs the same for 10 or 100,000 healthy runs.
A run has one sorted-set entry from its start (``keys.RUN_CHECKS``, score = when the monitor must look next: its
heartbeat probe, then each tier's deadline); the monitor works out what is due from the run record
(``monitor/tiers.py``) and moves the score on. Its heartbeat joins ``keys.RUN_HEARTBEATS`` at its first beat.
"""

from __future__ import annotations

from typing import Any

import msgspec
import redis
import redis.asyncio as aioredis

from config import Settings, keys
from redis_io import AsyncChannel, Channel, LuaScript, text
from state.changes import REDELIVERED_EVENT, REQUEUED_EVENT  # re-exported: the monitor's stage events

TIERS = ("warning", "soft", "hard")

_BEAT = LuaScript.load("state", "beat")
_DUE = LuaScript.load("state", "due")


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
    # the heartbeat timeout its worker ran under: the monitor first looks this long after the start whether the
    # run ever beat (a run enters the heartbeats at its first beat); 0 looks first at the first tier
    probe_s: float = 0.0

    @property
    def run_id(self) -> str:
        """Return this run's id."""
        return run_id(self.workflow_id, self.task_name)


class ConsumerInfo(msgspec.Struct, kw_only=True):
    """One Dramatiq worker process as the monitor needs it to put back its unacked messages."""

    broker_id: str
    queues: list[str]


class Beat(msgspec.Struct, kw_only=True):
    """A run's last heartbeat: its score in the heartbeats (0: its process is gone) and the stage's progress."""

    at_ms: int
    alive: bool
    progress: float | None = None


class Due(msgspec.Struct, kw_only=True):
    """The runs one pass must act on."""

    now_ms: int
    dead: list[str]
    # run id -> the score (ms) its check came due at; and the heartbeat ms of those that have beaten
    checks: dict[str, int]
    beats: dict[str, int] = msgspec.field(default_factory=dict)
    dead_workers: list[str] = msgspec.field(default_factory=list)
    # last seen at or before this server ms counted as gone (0 while silence does not count yet)
    cutoff_ms: int = 0


class SupervisorInfo(msgspec.Struct, kw_only=True):
    """What one worker supervisor serves: its queues, and per queue what its engine lacks ("" when ready)."""

    queues: list[str]
    engines: dict[str, str]


# A supervisor silent this long is forgotten (its entry only answers "not alive" before that).
_SUPERVISOR_KEEP_MS = 24 * 3600 * 1000
_run_decoder = msgspec.json.Decoder(RunInfo)
_supervisor_decoder = msgspec.json.Decoder(SupervisorInfo)
_encoder = msgspec.json.Encoder()


# Run tracking before the checks set: a deadline set per tier and a hash of beats (removed on the monitor's start).
_OLD_TRACKING_KEYS = (
    "taskgate:runs:deadline:hard",
    "taskgate:runs:deadline:soft",
    "taskgate:runs:deadline:warning",
    "taskgate:runs:beats",
)


def run_id(workflow_id: str, task_name: str) -> str:
    """Return the id of a stage's run."""
    return f"{workflow_id}|{task_name}"


def limits_for(settings: Settings, task_name: str) -> dict[str, float]:
    """Return the warning, soft and hard limits (seconds) that apply to ``task_name``."""
    monitor = settings.gpu_lock_monitor
    levels = monitor.task_timeout_levels.get(task_name, monitor.timeout_levels)
    return dict(zip(TIERS, (levels.warning, levels.soft_timeout, levels.hard_timeout), strict=True))


def queue_start(effects: Any, info: RunInfo) -> None:
    """Track a started run as effects of its move to RUNNING.

    Its record and its first check (from its start, the earlier of its heartbeat probe and its first tier). Its
    worker tells the host's sidecar locally (``actors.worker.local_runs``), whose first beat adds its heartbeat.
    """
    first_ms = int(info.limits_s[TIERS[0]] * 1000)
    if info.probe_s > 0:
        first_ms = min(first_ms, int(info.probe_s * 1000))
    record = keys.workflow_state(info.workflow_id)
    effects.hset(record, keys.run_field(info.task_name), _encoder.encode(info))  # one HSET with the stage's
    effects.zadd(keys.RUN_CHECKS, info.started_ms + first_ms, info.run_id)


def queue_forget_run(effects: Any, rid: str) -> None:
    """Queue what stops tracking a run as effects of its stage leaving RUNNING (``queue_forget`` for one run).

    Its record is emptied in the move's own HSET of the stage. Its heartbeat is removed only when it has one: the
    sidecar's first beat flags the stage (``beat.lua``), and the move's script reads the flag with the revision it
    checks, so a short run's ending pays no ZREM for it.
    """
    workflow_id, task_name = split_run_id(rid)
    effects.hset(keys.workflow_state(workflow_id), keys.run_field(task_name), "")
    effects.zrem_beaten(keys.RUN_HEARTBEATS, rid)
    effects.zrem(keys.RUN_CHECKS, rid)


def split_run_id(rid: str) -> tuple[str, str]:
    """Return the workflow id and task name of a run id."""
    workflow_id, _, task_name = rid.rpartition("|")
    return workflow_id, task_name


def queue_forget(pipe: Any, ids: list[str]) -> None:
    """Queue the commands that stop tracking ``ids`` (sync or async pipeline)."""
    if not ids:
        return
    for rid in ids:
        workflow_id, task_name = split_run_id(rid)
        pipe.hdel(keys.workflow_state(workflow_id), keys.run_field(task_name))
    pipe.hdel(keys.RUNS, *ids)  # a run started before records moved into the workflow's hash
    pipe.zrem(keys.RUN_HEARTBEATS, *ids)
    pipe.zrem(keys.RUN_CHECKS, *ids)


def queue_pending(effects: Any, rid: str, *, pending: bool) -> None:
    """Keep the index of PENDING stages in step with a move to or from PENDING (as effects of the move).

    A stage entering PENDING is indexed from the server's now; one leaving it is dropped (the note of its
    latest message, a field of its record, goes with the record).
    """
    if pending:
        effects.zadd_after(keys.PENDING_STAGES, 0, rid)
    else:
        effects.zrem(keys.PENDING_STAGES, rid)


class SyncTracker:
    """The worker side: track a run, note its GPU lease, forget it; the sidecar's heartbeat round."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._channel = Channel(client)

    def get(self, rid: str) -> RunInfo | None:
        """Return a tracked run's record, or None when it is not tracked."""
        workflow_id, task_name = split_run_id(rid)
        raw = self.client.hget(keys.workflow_state(workflow_id), keys.run_field(task_name))
        return _run_decoder.decode(raw) if raw else None

    def note_gpu(self, info: RunInfo) -> None:
        """Rewrite a tracked run's record (after its GPU lease was granted)."""
        record = keys.workflow_state(info.workflow_id)
        self.client.hset(record, keys.run_field(info.task_name), _encoder.encode(info))

    def end(self, info: RunInfo) -> None:
        """Stop tracking a run whose worker finished with it."""
        with self.client.pipeline(transaction=True) as pipe:
            queue_forget(pipe, [info.run_id])
            pipe.execute()

    def beat(self, runs: dict[str, bool], workers: list[str]) -> tuple[int, list[str]]:
        """Heartbeat ``runs`` (run id -> process alive) and ``workers`` ("host:pid").

        Returns now ms and the runs among ``runs`` no longer tracked.
        """
        args: list[Any] = [keys.EVENTS_KEPT, len(runs)]
        for rid, alive in runs.items():
            args += [rid, 1 if alive else 0]
        script_keys = [keys.RUNS, keys.RUN_HEARTBEATS, keys.WORKERS, keys.EVENTS]
        script_keys += [keys.workflow_state(split_run_id(rid)[0]) for rid in runs]
        now, *gone = _BEAT(self._channel, script_keys, [*args, *workers])
        return int(now), [text(rid) for rid in gone]

    def report_supervisor(self, member: str, info: SupervisorInfo, now_ms: int) -> None:
        """Note a worker supervisor alive at ``now_ms`` (server time) with what it serves; drop day-old ones."""
        old: Any = self.client.zrangebyscore(keys.SUPERVISORS, "-inf", now_ms - _SUPERVISOR_KEEP_MS)
        stale = [text(m) for m in old]
        with self.client.pipeline(transaction=False) as pipe:
            pipe.zadd(keys.SUPERVISORS, {member: now_ms})
            pipe.hset(keys.SUPERVISOR_INFO, member, _encoder.encode(info))
            if stale:
                pipe.zrem(keys.SUPERVISORS, *stale)
                pipe.hdel(keys.SUPERVISOR_INFO, *stale)
            pipe.execute()


class AsyncTracker:
    """The monitor and gateway side: what is due, run records, heartbeats."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._channel = AsyncChannel(client)

    async def due(self, heartbeat_timeout_ms: int, limit: int, beats_from_ms: int = 0) -> Due:
        """Return the runs whose heartbeat is dead or whose timeout check is due (at most ``limit`` each).

        Also the worker processes whose sidecar saw them gone or went silent. Before ``beats_from_ms`` (server
        ms) a silent heartbeat is not dead: Redis was unreachable, so nobody could beat.
        """
        script_keys = [keys.RUN_HEARTBEATS, keys.RUN_CHECKS, keys.WORKERS]
        reply = await _DUE.run(self._channel, script_keys, [heartbeat_timeout_ms, limit, beats_from_ms])
        now, dead, checks, workers, cutoff = reply
        return Due(
            now_ms=int(now),
            dead=[text(i) for i in dead],
            checks={text(checks[i]): int(float(checks[i + 1])) for i in range(0, len(checks), 3)},
            beats={text(checks[i]): int(float(checks[i + 2])) for i in range(0, len(checks), 3) if checks[i + 2]},
            dead_workers=[text(i) for i in workers],
            cutoff_ms=int(cutoff),
        )

    async def runs(self, ids: list[str]) -> dict[str, RunInfo]:
        """Return the records of those ``ids`` still tracked."""
        found = await self._records(ids, [])
        return {rid: _run_decoder.decode(raw) for rid, (raw, _) in found.items() if raw}

    async def _records(self, ids: list[str], extra: list[str]) -> dict[str, tuple[Any, list[Any]]]:
        """Return each run's raw record (None when untracked) and ``extra`` fields of its stage ({stage} for name).

        A run started before records moved into the workflow's hash is read from ``keys.RUNS``.
        """
        if not ids:
            return {}
        async with self.client.pipeline(transaction=False) as pipe:
            for rid in ids:
                workflow_id, task_name = split_run_id(rid)
                fields = [keys.run_field(task_name), *(f.format(stage=task_name) for f in extra)]
                pipe.hmget(keys.workflow_state(workflow_id), fields)
            replies = await pipe.execute()
        found = {rid: (reply[0] or None, reply[1:]) for rid, reply in zip(ids, replies, strict=True)}
        missing = [rid for rid, (raw, _) in found.items() if raw is None]
        if missing:
            legacy = await self.client.hmget(keys.RUNS, missing)
            for rid, raw in zip(missing, legacy, strict=True):
                found[rid] = (raw, found[rid][1])
        return found

    async def forget(self, ids: list[str]) -> None:
        """Stop tracking ``ids``."""
        async with self.client.pipeline(transaction=True) as pipe:
            queue_forget(pipe, ids)
            await pipe.execute()

    async def adopt_unchecked(self) -> int:
        """Give every tracked run without a timeout check one due at once; return how many were given one.

        Runs started before the checks set existed (an upgrade while tasks ran) had per-tier deadline sets
        instead: due at 0, their first pass acts on every tier whose deadline has passed, as the old sets would
        have. The old keys are removed. A run that ends meanwhile is forgotten by the pass that finds it gone.
        """
        ids = await self.client.hkeys(keys.RUNS)
        await self.client.unlink(*_OLD_TRACKING_KEYS)
        if not ids:
            return 0
        added = await self.client.zadd(keys.RUN_CHECKS, {text(rid): 0 for rid in ids}, nx=True)
        return int(added or 0)

    async def check_again(self, at_ms: dict[str, int]) -> None:
        """Move runs' next timeout check to ``at_ms`` (server ms); a run no longer tracked is not added back."""
        if at_ms:
            await self.client.zadd(keys.RUN_CHECKS, at_ms, xx=True)  # type: ignore[arg-type]

    async def snapshot(self, limit: int) -> list[tuple[RunInfo, float, Beat | None]]:
        """Return up to ``limit`` tracked runs, oldest heartbeat first, with heartbeat ms and last beat."""
        scored: list[Any] = await self.client.zrange(keys.RUN_HEARTBEATS, 0, limit - 1, withscores=True)
        ids = [text(m) for m, _ in scored]
        found = await self._records(ids, ["progress:{stage}"])
        shown: list[tuple[RunInfo, float, Beat | None]] = []
        for (_, score), rid in zip(scored, ids, strict=True):
            raw, (progress,) = found[rid]
            if raw:
                beat = Beat(at_ms=int(score), alive=score > 0, progress=None if progress is None else float(progress))
                shown.append((_run_decoder.decode(raw), float(score), beat))
        return shown

    async def live_supervisors(self, timeout_ms: int) -> list[SupervisorInfo]:
        """Return what every worker supervisor heartbeating within ``timeout_ms`` serves."""
        now_s, now_us = await self.client.time()
        since = int(now_s) * 1000 + int(now_us) // 1000 - timeout_ms
        members: Any = await self.client.zrangebyscore(keys.SUPERVISORS, since, "+inf")
        if not members:
            return []
        raws = await self.client.hmget(keys.SUPERVISOR_INFO, members)
        return [_supervisor_decoder.decode(raw) for raw in raws if raw is not None]


def decode_run(raw: bytes) -> RunInfo:
    """Decode a run record."""
    return _run_decoder.decode(raw)


__all__ = [
    "REDELIVERED_EVENT",
    "REQUEUED_EVENT",
    "TIERS",
    "AsyncTracker",
    "Beat",
    "ConsumerInfo",
    "Due",
    "RunInfo",
    "SupervisorInfo",
    "SyncTracker",
    "decode_run",
    "limits_for",
    "queue_forget",
    "queue_forget_run",
    "queue_pending",
    "queue_start",
    "run_id",
    "split_run_id",
]
