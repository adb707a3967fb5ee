"""Batches: one record per batch (``taskgate:batch:{batch_id}``), items created in pipelined chunks.

The counts are moved by the completion watcher (``monitor/batches.py``) through ``batch_item.lua``.

Item ``i`` of batch ``B`` is the workflow ``B-i``: the item ids are derived, never stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import redis.asyncio as aioredis

from config import keys
from redis_io import AsyncChannel, LuaScript, text
from state.create_call import CREATE_STAGE, Placement, QueuedMessage, create_stage_call
from state.errors import StateError, TaskConflict, TaskNotFound
from state.models import input_hash, now_ms
from state.store import CreateOutcome

_CREATE_BATCH = LuaScript.load("state", "create_batch")
BATCH_ITEM = LuaScript.load("state", "batch_item")
ENDED = ("SUCCESS", "FAILED", "CANCELLED")
STATUSES = ("PENDING", "RUNNING", *ENDED)
_FIELDS = ("meta", "size", "ended", "items_created", "completed_at_ms", "cancel_requested_at_ms", "callback_status")


class BatchConflict(TaskConflict):
    """Raised when a batch id is already used with another body, or an item's task id with other input."""


class BatchNotFound(TaskNotFound):
    """Raised when no batch has the id asked for (or it expired)."""


class BatchMeta(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What a batch was created with (written once)."""

    batch_id: str
    task_name: str
    size: int
    created_at_ms: int
    callback: str | None = None
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    owner: str = "open"


class BatchRecord(msgspec.Struct, kw_only=True):
    """A batch as stored: its meta, counts per status, how many items ended and were created, its times."""

    meta: BatchMeta
    counts: dict[str, int]
    ended: int
    items_created: int
    completed_at_ms: int | None = None
    cancel_requested_at_ms: int | None = None
    callback_status: dict[str, Any] | None = None

    @property
    def complete(self) -> bool:
        """Return whether every item has ended."""
        return self.completed_at_ms is not None


def body_digest(task_name: str, items: list[dict[str, Any]], callback: str | None, labels: dict[str, str]) -> str:
    """Return the digest that makes a batch submit idempotent (same body, same digest)."""
    return input_hash(task_name, {"items": items, "callback": callback, "labels": labels})


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _parse(batch_id: str, values: Sequence[Any], counts: Sequence[Any]) -> BatchRecord:
    raw = dict(zip(_FIELDS, values, strict=True))
    if raw["meta"] is None:
        raise BatchNotFound(f"no batch with id {batch_id!r}")
    callback_status = msgspec.json.decode(raw["callback_status"]) if raw["callback_status"] else None
    return BatchRecord(
        meta=msgspec.json.decode(raw["meta"], type=BatchMeta),
        counts={name: max(0, int(n or 0)) for name, n in zip(STATUSES, counts, strict=True)},
        ended=int(raw["ended"] or 0),
        items_created=int(raw["items_created"] or 0),
        completed_at_ms=_int(raw["completed_at_ms"]),
        cancel_requested_at_ms=_int(raw["cancel_requested_at_ms"]),
        callback_status=callback_status,
    )


def parse_item(raw: bytes | str | None) -> tuple[int, str]:
    """Return an item's counted ``(rev, status)`` from its ``i:{index}`` field (absent: PENDING at rev 1)."""
    if raw is None:
        return 1, "PENDING"
    rev, status = text(raw).split(" ", 1)
    return int(rev), status


class BatchStore:
    """Asynchronous access to batch records."""

    def __init__(self, client: aioredis.Redis, ttl_s: int) -> None:
        self.client = client
        self.ttl_ms = ttl_s * 1000
        self.channel = AsyncChannel(client)

    async def create(self, meta: BatchMeta, digest: str) -> CreateOutcome:
        """Create the batch record (its items come after, from ``create_items``), or find the same one.

        Raises:
            BatchConflict: the batch id is already used with another body.
        """
        script_keys = [keys.batch(meta.batch_id), keys.BATCH_INDEX, keys.BATCHES_ACTIVE]
        args: list[str | int | bytes] = [
            meta.batch_id,
            digest,
            msgspec.json.encode(meta),
            meta.size,
            meta.task_name,
            1 if meta.callback else 0,
            meta.created_at_ms,
            self.ttl_ms,
        ]
        outcome = text(await _CREATE_BATCH.run(self.channel, script_keys, args))
        if outcome == "conflict":
            raise BatchConflict(
                f"batch {meta.batch_id!r} already exists with another body; use a new batch_id to run it again"
            )
        return CreateOutcome(outcome)

    async def taken(self, batch_id: str, size: int) -> list[int]:
        """Return the indexes whose item id (``{batch_id}-{index}``) already names a workflow."""
        commands = [("EXISTS", keys.workflow_state(keys.batch_item_id(batch_id, i))) for i in range(size)]
        replies = await self.channel.execute_many(*commands)
        return [i for i, found in enumerate(replies) if found]

    async def create_items(
        self,
        meta: BatchMeta,
        items: list[dict[str, Any]],
        message: Callable[[str], QueuedMessage],
        chunk: int,
        placement: Placement | None = None,
    ) -> None:
        """Create every item's workflow (with its queued message), ``chunk`` scripts per round trip.

        ``placement``: the priority band and client every item waits in (the batch's submitter's).

        The event loop runs other requests between chunks. Items that exist with the same input are kept
        (a retried batch completes what an interrupted one began).

        Raises:
            BatchConflict: an item's task id exists with other input.
        """
        for start in range(0, len(items), chunk):
            calls = []
            for index in range(start, min(start + chunk, len(items))):
                wid = keys.batch_item_id(meta.batch_id, index)
                _stage, _meta, script_keys, args = create_stage_call(
                    wid,
                    meta.task_name,
                    items[index],
                    None,
                    message(wid),
                    self.ttl_ms,
                    trim=index == 0,
                    placement=placement,
                )
                calls.append((script_keys, args))
            replies = await CREATE_STAGE.run_many(self.channel, calls)
            for offset, reply in enumerate(replies):
                if isinstance(reply, Exception):
                    raise reply
                if text(reply[0]) == "conflict":
                    wid = keys.batch_item_id(meta.batch_id, start + offset)
                    raise BatchConflict(f"item {start + offset}: task {wid!r} already exists with other input_data")
            await asyncio.sleep(0)  # let the loop answer other clients between chunks
        await self.client.hset(keys.batch(meta.batch_id), "items_created", len(items))  # type: ignore[misc]

    async def get(self, batch_id: str) -> BatchRecord:
        """Return a batch's record.

        Raises:
            BatchNotFound: no batch has this id.
        """
        return (await self.get_many([batch_id]))[0]

    async def get_many(self, batch_ids: Sequence[str]) -> list[BatchRecord]:
        """Return several batches' records in one round trip.

        Raises:
            BatchNotFound: one of them does not exist.
        """
        commands: list[tuple[Any, ...]] = []
        for batch_id in batch_ids:
            commands.append(("HMGET", keys.batch(batch_id), *_FIELDS))
            commands.append(("HMGET", keys.batch(batch_id), *(f"n:{s}" for s in STATUSES)))
        replies = await self.channel.execute_many(*commands)
        return [_parse(bid, replies[2 * i], replies[2 * i + 1]) for i, bid in enumerate(batch_ids)]

    async def items(self, batch_id: str, offset: int, limit: int) -> list[tuple[int, int, str]]:
        """Return ``(index, counted rev, counted status)`` of items ``offset`` to ``offset + limit``."""
        indexes = list(range(offset, offset + limit))
        if not indexes:
            return []
        raw = await self.channel.execute("HMGET", keys.batch(batch_id), *(f"i:{i}" for i in indexes))
        return [(i, *parse_item(r)) for i, r in zip(indexes, raw, strict=True)]

    async def recent(self, limit: int) -> list[BatchRecord]:
        """Return the most recent batches, newest first (from the index; expired ones are skipped)."""
        ids = [text(b) for b in await self.client.zrevrange(keys.BATCH_INDEX, 0, limit * 2 - 1)]
        found = []
        for batch_id in ids:
            try:
                found.append(await self.get(batch_id))
            except BatchNotFound:
                continue
            if len(found) == limit:
                break
        return found

    async def mark_cancel(self, batch_id: str) -> None:
        """Note when someone asked the whole batch to stop."""
        await self.client.hsetnx(keys.batch(batch_id), "cancel_requested_at_ms", now_ms())  # type: ignore[misc]

    async def set_callback_status(self, batch_id: str, status_json: bytes) -> None:
        """Record the batch callback's delivery state."""
        await self.client.hset(keys.batch(batch_id), "callback_status", status_json)  # type: ignore[misc]

    async def count(self, moves: Sequence[tuple[str, int, int, str, str]]) -> list[str]:
        """Count item moves ``(batch_id, index, rev, status, task_name)`` in one round trip.

        Only moves of the batch's own task count (a pipeline item's inner stages move too). Returns the
        batches the moves completed.
        """
        if not moves:
            return []
        calls: list[tuple[list[str], list[str | int]]] = [
            (
                [keys.batch(bid), keys.BATCHES_ACTIVE, keys.WEBHOOK_OUTBOX, keys.EVENTS],
                [bid, index, rev, status, keys.EVENTS_KEPT, task_name],
            )
            for bid, index, rev, status, task_name in moves
        ]
        replies = await BATCH_ITEM.run_many(self.channel, calls)
        for reply in replies:
            if isinstance(reply, Exception):
                raise StateError(f"counting a batch item failed: {reply}")
        return [moves[i][0] for i, reply in enumerate(replies) if reply == 2]


__all__ = [
    "ENDED",
    "STATUSES",
    "BatchConflict",
    "BatchMeta",
    "BatchNotFound",
    "BatchRecord",
    "BatchStore",
    "body_digest",
    "parse_item",
]
