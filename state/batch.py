"""Several stage changes in two round trips (the monitor's tiers act on many runs per pass)."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from config import keys
from state.errors import StateError
from state.models import StageRecord, now_ms
from state.store import StateStore
from state.transitions import Status, check_transition

# A change returns the new record, or None to leave the stage as it is.
Change = Callable[[StageRecord], StageRecord | None]

_decoder = msgspec.json.Decoder(StageRecord)


async def update_stages(store: StateStore, changes: list[tuple[str, str, Change]]) -> list[StageRecord | None]:
    """Apply each ``(workflow_id, task_name, change)`` like ``StateStore.update_stage``, batched.

    Reads every stage in one pipeline and writes every change in another (each write is the same
    compare-and-set); a stage that changed in between is retried alone. Returns the new record per
    change, or None where the stage is missing, the change declined or the transition is illegal.
    """
    async with store.client.pipeline(transaction=False) as pipe:
        for wid, name, _ in changes:
            pipe.hmget(keys.workflow_state(wid), [f"stage:{name}", f"rev:{name}"])
        raws = await pipe.execute()
    results: list[StageRecord | None] = [None] * len(changes)
    written: list[tuple[int, StageRecord, StageRecord]] = []
    async with store.client.pipeline(transaction=False) as pipe:
        for i, ((wid, name, change), (raw, rev)) in enumerate(zip(changes, raws, strict=True)):
            if raw is None or rev is None:
                continue
            current = _decoder.decode(raw)
            new = change(msgspec.structs.replace(current))
            if new is None:
                continue
            if new.status != current.status or new.status == Status.RUNNING:
                check_transition(current.status, new.status)
            new.updated_at_ms = now_ms()
            await store.cas(keys.workflow_state(wid), name, int(rev), new, client=pipe)  # queues the EVALSHA
            written.append((i, current, new))
        replies = await pipe.execute() if written else []
    for (i, current, new), reply in zip(written, replies, strict=True):
        wid, name, change = changes[i]
        if int(reply[0]) == 1:
            results[i] = new
            if new.status != current.status:
                await store.transitioned(wid, current, new)
        elif int(reply[0]) == 0:
            results[i] = await _alone(store, wid, name, change)
    return results


class _Declined(StateError):
    """Raised inside a retried change that now leaves the stage as it is."""


async def _alone(store: StateStore, wid: str, name: str, change: Change) -> StageRecord | None:
    def apply(stage: StageRecord) -> StageRecord:
        new = change(stage)
        if new is None:
            raise _Declined(name)
        return new

    try:
        return await store.update_stage(wid, name, apply)
    except StateError:  # declined, gone, or an illegal move now
        return None
