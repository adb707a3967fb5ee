"""Files of workflows on the storage root: bytes held per workflow and in all, removal when they expire.

Every workflow's folder is ``{root}/workflows/{workflow_id}/``. A stage that makes its output folder
(``TaskRun.output_dir``) scores the workflow in the sweep sorted set with its time, and a stage ending that
measures a folder enters it there if missing (a workflow without a folder is never in the sweep); the monitor
reads only the due head of that set (``AsyncRetention.sweep``): a workflow whose record is gone has its folder
removed; one whose record was touched since is scored again with its last activity (its record's TTL tells
when that was). With ``storage.retention_s`` the folder goes that long after the last activity, never while a
stage is pending or running. Nothing outside ``workflows/`` is ever removed: uploads and other inputs stay.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
import structlog

from config import Settings, keys
from redis_io import AsyncChannel, Channel, LuaScript, text
from state.errors import StageNotTerminal, TaskNotFound
from state.models import Workflow, now_ms
from state.records import parse_workflow
from state.search import Origin
from state.transitions import is_terminal

log = structlog.get_logger(__name__)

_STORAGE_BYTES = LuaScript.load("state", "storage_bytes")
_DROP_FACET = LuaScript.load("state", "drop_facet")
_FORGET = -1
_MIN_RECHECK_MS = 100
_MAX_RECHECK_MS = 60_000


@functools.lru_cache(maxsize=8)
def _workflows_base(root: Path) -> Path:
    return root.resolve() / "workflows"  # a realpath walk: once per root, not once per stage ending


def workflow_folder(root: Path, workflow_id: str) -> Path | None:
    """Return ``{root}/workflows/{workflow_id}``, or None when the id would name anything else."""
    base = _workflows_base(root)
    folder = base / workflow_id
    if workflow_id in ("", ".", "..") or "/" in workflow_id or "\\" in workflow_id or folder.parent != base:
        return None
    return folder


def folder_bytes(folder: Path) -> int:
    """Return the bytes of the regular files under ``folder`` (links are not followed); 0 when missing."""
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            try:
                stat = os.lstat(os.path.join(dirpath, name))
            except OSError:  # removed while we walked
                continue
            total += stat.st_size
    return total


def remove_folder(root: Path, workflow_id: str) -> bool:
    """Remove a workflow's folder; return whether there was one."""
    folder = workflow_folder(root, workflow_id)
    if folder is None or not folder.is_dir() or folder.is_symlink():
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True


def _script_keys(workflow_id: str) -> list[str]:
    return [keys.STORAGE_BYTES, keys.STORAGE_TOTAL, keys.workflow_state(workflow_id), keys.STORAGE_SWEEP]


async def join_sweep(client: aioredis.Redis, workflow_id: str) -> None:
    """Enter a workflow whose folder was just made in the sweep, scored now (its last activity)."""
    await client.zadd(keys.STORAGE_SWEEP, {workflow_id: now_ms()})


class SyncStorageUsage:
    """The worker side: measure a workflow's folder when one of its stages ends."""

    def __init__(self, client: redis.Redis) -> None:
        self._channel = Channel(client)

    def measure(self, root: Path, workflow_id: str) -> int:
        """Record the bytes the workflow's folder holds now; return them."""
        # a stage that wrote no file (most): one stat on a string path, no Path objects, nothing to record
        if "\0" in workflow_id or not os.path.isdir(f"{_workflows_base(root)}/{workflow_id}"):
            return 0
        folder = workflow_folder(root, workflow_id)
        if folder is None or not folder.is_dir():  # an id that names anything else
            return 0
        size = folder_bytes(folder)
        _STORAGE_BYTES(self._channel, _script_keys(workflow_id), [workflow_id, size, now_ms()])
        return size


class AsyncRetention:
    """The monitor and gateway side: sweep expired workflows' folders, purge one workflow, read totals."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._channel = AsyncChannel(client)

    async def total_bytes(self) -> int:
        """Return the bytes held by every workflow folder, as last measured."""
        return int(await self.client.get(keys.STORAGE_TOTAL) or 0)

    async def sweep(self, settings: Settings) -> int:
        """Remove the folders that are due (at most ``storage.sweep_batch``); return how many went."""
        ttl_ms = settings.state_ttl_s * 1000
        keep_ms = (settings.storage.retention_s or settings.state_ttl_s) * 1000
        now = now_ms()
        found: list[Any] = await self.client.zrangebyscore(
            keys.STORAGE_SWEEP, "-inf", now - keep_ms, start=0, num=settings.storage.sweep_batch
        )
        due = [text(w) for w in found]
        if not due:
            return 0
        async with self.client.pipeline(transaction=False) as pipe:
            for wid in due:
                pipe.hgetall(keys.workflow_state(wid))
                pipe.pttl(keys.workflow_state(wid))
            replies = await pipe.execute()
        removed, later = 0, {}
        recheck_ms = max(_MIN_RECHECK_MS, min(_MAX_RECHECK_MS, keep_ms // 4))
        for wid, raw, pttl in zip(due, replies[::2], replies[1::2], strict=True):
            wf = parse_workflow(raw)
            last = now if wf is None or pttl < 0 else now - (ttl_ms - pttl)
            if wf is None or (_all_ended(wf) and last + keep_ms <= now):
                await self._remove(settings.share_root, wid, record_kept=wf is not None)
                removed += 1
            else:
                later[wid] = max(last, now - keep_ms + recheck_ms)
        if later:
            await self.client.zadd(keys.STORAGE_SWEEP, later, xx=True)
        return removed

    async def drop_idle_facets(self, settings: Settings, batch: int = 100) -> int:
        """Drop the search facet indexes (per key, tenant, label) unwritten for the record TTL; return how many.

        Their every entry has expired; a facet still written is trimmed by the submits that write it.
        """
        horizon = now_ms() - settings.state_ttl_s * 1000
        idle = await self.client.zrangebyscore(keys.FACETS, "-inf", horizon, start=0, num=batch)
        if not idle:
            return 0
        calls = [([keys.FACETS, text(facet)], [horizon]) for facet in idle]
        return sum(int(n) for n in await _DROP_FACET.run_many(self._channel, calls))

    async def purge(self, root: Path, workflow_id: str) -> Workflow:
        """Delete a finished workflow's record, index entries and folder; return the record it had.

        Raises:
            TaskNotFound: no such workflow.
            StageNotTerminal: a stage is still pending or running.
        """
        key = keys.workflow_state(workflow_id)
        wf = parse_workflow(await self.client.hgetall(key))
        if wf is None:
            raise TaskNotFound(f"no task with id {workflow_id!r}")
        if not _all_ended(wf):
            running = next(n for n, s in wf.stages.items() if not is_terminal(s.status))
            raise StageNotTerminal(
                f"task {workflow_id!r} is still {wf.stages[running].status} ({running}); cancel it first"
            )
        await self._remove(root, workflow_id, record_kept=False)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.zrem(keys.TASK_INDEX, workflow_id)
            for name in wf.stages:
                pipe.zrem(keys.task_index_by_name(name), workflow_id)
            for facet in Origin(wf.meta.key, wf.meta.tenant, wf.meta.labels).facet_keys():
                pipe.zrem(facet, workflow_id)
            await pipe.execute()
        log.info("workflow_purged", task_id=workflow_id, storage_bytes=wf.storage_bytes)
        return wf

    async def _remove(self, root: Path, workflow_id: str, *, record_kept: bool) -> None:
        """Remove the folder, forget its bytes; a record that stays notes when its files went."""
        existed = await asyncio.to_thread(remove_folder, root, workflow_id)
        await _STORAGE_BYTES.run(self._channel, _script_keys(workflow_id), [workflow_id, _FORGET, now_ms()])
        if existed:
            log.info("workflow_files_removed", task_id=workflow_id, record_kept=record_kept)


def _all_ended(wf: Workflow) -> bool:
    return all(is_terminal(stage.status) for stage in wf.stages.values())
