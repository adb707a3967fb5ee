"""Bulk actions by filter (``POST /v1/tasks/retry`` and ``/cancel``): select by pages, act on each page at once.

A page is up to ``PAGE`` ids from ``state.search``; its records are read in one pipeline, the stages the
action applies to are picked, and a retry replays them all in one ``replay_stages.lua`` call (each stage back
to PENDING with its earlier run in its history, its new message queued in the same step). Between pages the
caller's event loop runs, so a bulk action over 10,000 tasks never holds the gateway.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from config import keys
from redis_io import LuaScript, text
from state import changes
from state.create_call import QueuedMessage
from state.errors import StageFinished, TaskNotFound
from state.models import StageRecord
from state.records import stage_fields
from state.search import TaskFilter, search
from state.store import StateStore
from state.transitions import is_terminal

REPLAY_STAGES = LuaScript.load("state", "replay_stages")
PAGE = 200
SAMPLE = 20
Action = Literal["retry", "cancel"]
MakeMessage = Callable[[str, str], QueuedMessage]  # (task_name, workflow_id) -> the message that runs it
_encoder = msgspec.json.Encoder()
_stage_decoder = msgspec.json.Decoder(StageRecord)


@dataclass
class BulkOutcome:
    """What a bulk action found and did."""

    action: Action
    dry_run: bool
    matched: int = 0
    count: int = 0
    skipped: int = 0
    pages: int = 0
    sample: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class Target:
    """A stage a bulk action applies to, as read: its record and revision."""

    workflow_id: str
    stage: StageRecord
    rev: int


def applies(action: Action, status: str) -> bool:
    """Return whether ``action`` applies to a stage in ``status`` (retry: ended unsuccessfully; cancel: running)."""
    return status in changes.REPLAYABLE if action == "retry" else not is_terminal(status)


async def _targets(store: StateStore, ids: list[str], action: Action, task_name: str | None) -> list[Target]:
    """Read the stage each id's action applies to: its latest (with ``task_name``: that one, when it is the latest).

    Two pipelines of small reads (the latest stage's name, then its record and revision), not whole workflows.
    """
    async with store.client.pipeline(transaction=False) as pipe:
        for wid in ids:
            pipe.hget(keys.workflow_state(wid), "latest")
        latest = [text(name) if name is not None else None for name in await pipe.execute()]
    picked = [(wid, name) for wid, name in zip(ids, latest, strict=True) if name and name == (task_name or name)]
    async with store.client.pipeline(transaction=False) as pipe:
        for wid, name in picked:
            pipe.hmget(keys.workflow_state(wid), [f"status:{name}", *stage_fields(name)])
        found = await pipe.execute()
    return [
        Target(wid, _stage_decoder.decode(raw), int(rev))
        for (wid, _), (status, raw, rev) in zip(picked, found, strict=True)
        if status is not None and raw is not None and applies(action, text(status))
    ]


def _replay_call(store: StateStore, targets: list[Target], make_message: MakeMessage) -> tuple[list[str], list[Any]]:
    """Return the KEYS and ARGV of ``replay_stages.lua`` (CPU work: the caller runs it off the event loop)."""
    script_keys: list[str] = [keys.EVENTS, keys.PENDING_STAGES]
    args: list[Any] = [store.ttl_ms, keys.EVENTS_KEPT, keys.BROKER_WAKE_KEPT]
    for target in targets:
        wid, name = target.workflow_id, target.stage.task_name
        message = make_message(name, wid)
        new = changes.replay(target.stage, message.message_id)
        q = message.queue
        script_keys += [
            keys.workflow_state(wid),
            keys.dramatiq_queue(q),
            keys.dramatiq_messages(q),
            keys.broker_wake(q),
        ]
        args += [wid, name, target.rev, _encoder.encode(new), message.message_id, message.payload, q]
    return script_keys, args


async def replay(store: StateStore, targets: list[Target], make_message: MakeMessage) -> list[str]:
    """Replay each target in one script call; return the ids replayed (one that moved meanwhile is left)."""
    if not targets:
        return []
    script_keys, args = await asyncio.to_thread(_replay_call, store, targets, make_message)
    codes = await REPLAY_STAGES.run(store.channel, script_keys, args)
    return [t.workflow_id for t, code in zip(targets, codes, strict=True) if int(code) == 1]


async def _cancel(store: StateStore, targets: list[Target]) -> list[str]:
    async def one(wid: str) -> str | None:
        try:
            await store.request_cancel(wid)
        except (StageFinished, TaskNotFound):
            return None
        return wid

    done = await asyncio.gather(*(one(t.workflow_id) for t in targets))
    return [wid for wid in done if wid is not None]


async def run_bulk(
    store: StateStore,
    action: Action,
    selector: TaskFilter,
    *,
    dry_run: bool,
    make_message: MakeMessage,
    on_page: Callable[[BulkOutcome], Awaitable[None]] | None = None,
) -> BulkOutcome:
    """Apply ``action`` to every task ``selector`` matches, a page at a time (or only count them: ``dry_run``)."""
    started = time.perf_counter()
    outcome = BulkOutcome(action=action, dry_run=dry_run)
    cursor: str | None = None
    while True:
        ids, cursor = await search(store.channel, store.ttl_ms, selector, PAGE, cursor)
        outcome.pages += 1
        outcome.matched += len(ids)
        targets = await _targets(store, ids, action, selector.task_name) if ids else []
        if dry_run:
            done = [t.workflow_id for t in targets]
        elif action == "retry":
            done = await replay(store, targets, make_message)
        else:
            done = await _cancel(store, targets)
        outcome.count += len(done)
        outcome.skipped += len(ids) - len(done)
        outcome.sample += done[: SAMPLE - len(outcome.sample)]
        if on_page is not None:
            await on_page(outcome)
        if cursor is None:
            break
        await asyncio.sleep(0)  # let the gateway answer others between pages
    outcome.elapsed_s = round(time.perf_counter() - started, 3)
    return outcome
