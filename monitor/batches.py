"""Batch completion: count item moves from the live events stream, and reconcile what the stream missed.

Every stage change writes its event on ``taskgate:events`` in the same Lua step as the change, so the
watcher reads the stream (one ``XREAD BLOCK`` at a time, from a cursor kept in Redis) and counts the moves of
items of active batches (``state/lua/batch_item.lua``: newer revisions only, ends final, completion once).
It never reads the items' records, except in the reconcile: at start, after a gap (the stream trimmed past
the cursor), and every ``batches.reconcile_interval_s``, it reads the revision and status of each item not
yet counted as ended, in pipelined chunks. Only the monitor leader watches.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from config import keys
from config.batches import BatchSettings
from redis_io import text
from state.batches import ENDED, STATUSES, BatchNotFound, BatchStore

log = structlog.get_logger(__name__)

_ITEM_ID = re.compile(r"\A(.+)-(\d{1,7})\Z")
READ_COUNT = 1000
BLOCK_MS = 1000
IDLE_S = 1.0  # how often a follower checks whether it leads now
RECONCILE_CHUNK = 500


def _stream_ms(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class BatchWatcher:
    """Follow the events stream for batch items while this process leads; reconcile when asked."""

    def __init__(self, client: aioredis.Redis, settings: BatchSettings, state_ttl_s: int) -> None:
        self.client = client
        self.store = BatchStore(client, state_ttl_s)
        self.interval_s = settings.reconcile_interval_s
        self._cursor: str | None = None
        self._reconciled_at = float("-inf")
        self._needs_reconcile = True

    async def follow(self, leading: Callable[[], bool]) -> None:
        """Read and count events while ``leading()``; runs until cancelled."""
        while True:
            if not leading():
                self._cursor = None  # a new term starts from the stored cursor, with a reconcile
                await asyncio.sleep(IDLE_S)
                continue
            try:
                await self.read_once()
            except (RedisError, OSError) as exc:
                log.warning("batch_watch_failed", error=str(exc))
                await asyncio.sleep(IDLE_S)

    async def read_once(self) -> int:
        """Read one chunk of events after the cursor and count the batch items in it; return the moves counted."""
        if self._cursor is None:
            await self._start()
        assert self._cursor is not None  # noqa: S101  (set by _start)
        reply: Any = await self.client.xread({keys.EVENTS: self._cursor}, count=READ_COUNT, block=BLOCK_MS)
        entries = [(text(eid), raw) for _stream, found in reply or () for eid, raw in found]
        if not entries:
            return 0
        counted = await self._count(entries)
        self._cursor = entries[-1][0]
        await self.client.set(keys.BATCHES_CURSOR, self._cursor)
        if len(entries) == READ_COUNT and await self._gap():
            self._needs_reconcile = True
        return counted

    async def _start(self) -> None:
        stored = await self.client.get(keys.BATCHES_CURSOR)
        if stored is None:
            last: Any = await self.client.xrevrange(keys.EVENTS, count=1)
            self._cursor = text(last[0][0]) if last else "0-0"
        else:
            self._cursor = text(stored)
        self._needs_reconcile = True  # whatever happened while nobody watched

    async def _gap(self) -> bool:
        oldest: Any = await self.client.xrange(keys.EVENTS, count=1)
        return bool(oldest) and self._cursor is not None and _stream_ms(text(oldest[0][0])) > _stream_ms(self._cursor)

    async def _count(self, entries: list[tuple[str, dict[Any, Any]]]) -> int:
        moves: list[tuple[str, int, int, str, str]] = []
        for _eid, raw in entries:
            data = {text(k): text(v) for k, v in raw.items()}
            if data.get("type") != "stage" or data.get("status") not in STATUSES:
                continue
            match = _ITEM_ID.match(data.get("workflow_id", ""))
            if match is not None:
                rev, task_name = int(data.get("rev", "0")), data.get("task_name", "")
                moves.append((match.group(1), int(match.group(2)), rev, data["status"], task_name))
        if not moves:
            return 0
        candidates = sorted({m[0] for m in moves})
        member = await self.client.smismember(keys.BATCHES_ACTIVE, candidates)  # type: ignore[misc]
        active = {bid for bid, yes in zip(candidates, member, strict=True) if yes}
        chosen = [m for m in moves if m[0] in active]
        completed = await self.store.count(chosen)
        for batch_id in completed:
            log.info("batch_completed", batch_id=batch_id)
        return len(chosen)

    async def reconcile_due(self) -> int:
        """Reconcile every active batch when one is due (start, gap, interval); return the moves counted."""
        if not self._needs_reconcile and time.monotonic() - self._reconciled_at < self.interval_s:
            return 0
        self._needs_reconcile = False
        self._reconciled_at = time.monotonic()
        counted = 0
        for batch_id in sorted(text(b) for b in await self.client.smembers(keys.BATCHES_ACTIVE)):  # type: ignore[misc]
            counted += await self.reconcile(batch_id)
        return counted

    async def reconcile(self, batch_id: str) -> int:
        """Read the items of one batch not yet counted as ended and count what moved; return how many."""
        try:
            record = await self.store.get(batch_id)
        except BatchNotFound:  # expired: nothing will complete it
            await self.client.srem(keys.BATCHES_ACTIVE, batch_id)  # type: ignore[misc]
            return 0
        size, task_name = record.meta.size, record.meta.task_name
        counted = 0
        for start in range(0, size, RECONCILE_CHUNK):
            states = await self.store.items(batch_id, start, min(RECONCILE_CHUNK, size - start))
            open_ = [(i, rev) for i, rev, status in states if status not in ENDED]
            commands = [
                (
                    "HMGET",
                    keys.workflow_state(keys.batch_item_id(batch_id, i)),
                    f"rev:{task_name}",
                    f"status:{task_name}",
                )
                for i, _rev in open_
            ]
            replies = await self.store.channel.execute_many(*commands) if commands else []
            moves = [
                (batch_id, i, int(rev), text(status), task_name)
                for (i, known), (rev, status) in zip(open_, replies, strict=True)
                if rev is not None and status is not None and int(rev) > known
            ]
            counted += len(moves)
            for done in await self.store.count(moves):
                log.info("batch_completed", batch_id=done, by="reconcile")
        if counted:
            log.info("batch_reconciled", batch_id=batch_id, moves=counted)
        return counted
