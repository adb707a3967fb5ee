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
from redis_io import LuaScript
from state import changes
from state.errors import StageFinished, TaskNotFound
from state.models import Workflow
from state.records import parse_workflow
from state.search import TaskFilter, search
from state.store import QueuedMessage, StateStore
from state.transitions import is_terminal

REPLAY_STAGES = LuaScript.load("state", "replay_stages")
PAGE = 500
SAMPLE = 20
Action = Literal["retry", "cancel"]
MakeMessage = Callable[[str, str], QueuedMessage]  # (task_name, workflow_id) -> the message that runs it
_encoder = msgspec.json.Encoder()


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


def target_stage(wf: Workflow, action: Action, task_name: str | None) -> str | None:
    """Return the stage the action applies to, or None when it leaves the workflow alone.

    Only the latest stage is acted on (with ``task_name``: when that stage is the latest): a retry needs it
    FAILED or CANCELLED, a cancel needs it not ended.
    """
    name = task_name or wf.latest
    if name != wf.latest:
        return None
    status = wf.stages[name].status
    applies = status in changes.REPLAYABLE if action == "retry" else not is_terminal(status)
    return name if applies else None


async def _read(store: StateStore, ids: list[str]) -> list[Workflow | None]:
    async with store.client.pipeline(transaction=False) as pipe:
        for wid in ids:
            pipe.hgetall(keys.workflow_state(wid))
        raws = await pipe.execute()
    return [parse_workflow(raw) for raw in raws]


async def replay(store: StateStore, targets: list[tuple[Workflow, str]], make_message: MakeMessage) -> list[str]:
    """Replay each ``(workflow, stage)`` in one script call; return the ids replayed (a moved one is left)."""
    script_keys: list[str] = [keys.EVENTS, keys.PENDING_STAGES]
    args: list[Any] = [store.ttl_ms, keys.EVENTS_KEPT, keys.BROKER_WAKE_KEPT]
    for wf, name in targets:
        wid = wf.meta.workflow_id
        message = make_message(name, wid)
        new = changes.replay(msgspec.structs.replace(wf.stages[name]), message.message_id)
        q = message.queue
        script_keys += [
            keys.workflow_state(wid),
            keys.dramatiq_queue(q),
            keys.dramatiq_messages(q),
            keys.broker_wake(q),
        ]
        args += [wid, name, wf.revisions[name], _encoder.encode(new), message.message_id, message.payload, q]
    codes = await REPLAY_STAGES.run(store.channel, script_keys, args) if targets else []
    return [wf.meta.workflow_id for (wf, _), code in zip(targets, codes, strict=True) if int(code) == 1]


async def _cancel(store: StateStore, targets: list[tuple[Workflow, str]]) -> list[str]:
    async def one(wid: str) -> str | None:
        try:
            await store.request_cancel(wid)
        except (StageFinished, TaskNotFound):
            return None
        return wid

    done = await asyncio.gather(*(one(wf.meta.workflow_id) for wf, _ in targets))
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
        targets = []
        for wf in await _read(store, ids) if ids else []:
            name = target_stage(wf, action, selector.task_name) if wf is not None else None
            if wf is not None and name is not None:
                targets.append((wf, name))
        if dry_run:
            done = [wf.meta.workflow_id for wf, _ in targets]
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
