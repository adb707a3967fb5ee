"""Several stage changes in two round trips (the monitor's tiers act on many runs per pass)."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from config import keys
from state.errors import StateError
from state.models import StageRecord
from state.records import UPDATE_STAGE, cas_call, has_waiters, prepare_change, stage_fields
from state.store import StateStore

# A named change (``state.changes``): it raises ``PreconditionFailed`` to leave the stage as it is.
Change = Callable[[StageRecord], StageRecord]

_decoder = msgspec.json.Decoder(StageRecord)


async def update_stages(store: StateStore, changes: list[tuple[str, str, Change]]) -> list[StageRecord | None]:
    """Apply each ``(workflow_id, task_name, change)`` like ``StateStore.update_stage``, batched.

    Reads every stage in one round trip and writes every change in another, each write the stores' own
    compare-and-set (``prepare_change`` + ``update_stage.lua``), so its bookkeeping (task figures, run
    tracking) commits in the same atomic step; a stage that changed in between is retried alone. Returns
    the new record per change, or None where the stage is missing, the change's precondition does not hold
    or the transition is illegal.
    """
    reads = [("HMGET", keys.workflow_state(wid), *stage_fields(name)) for wid, name, _ in changes]
    raws = await store.channel.execute_many(*reads)
    results: list[StageRecord | None] = [None] * len(changes)
    written: list[tuple[int, StageRecord]] = []
    calls = []
    for i, ((wid, name, change), (raw, rev)) in enumerate(zip(changes, raws, strict=True)):
        if raw is None or rev is None:
            continue
        try:
            new, effects = prepare_change(wid, _decoder.decode(raw), change, None)
        except StateError:  # its precondition does not hold, or an illegal move
            continue
        calls.append(
            cas_call(keys.workflow_state(wid), name, int(rev), new, ttl_ms=store.ttl_ms, fence=None, effects=effects)
        )
        written.append((i, new))
    replies = await UPDATE_STAGE.run_many(store.channel, calls) if calls else []
    for (i, new), reply in zip(written, replies, strict=True):
        if isinstance(reply, Exception):
            raise reply
        if int(reply[0]) == 1:
            results[i] = new
            if has_waiters(reply):
                await store.hand_over(changes[i][0], changes[i][1])
        elif int(reply[0]) == 0:
            wid, name, change = changes[i]
            results[i] = await _alone(store, wid, name, change)
    return results


async def _alone(store: StateStore, wid: str, name: str, change: Change) -> StageRecord | None:
    try:
        return await store.update_stage(wid, name, change)
    except StateError:  # its precondition does not hold, gone, or an illegal move now
        return None
