"""Counts per API key that its limits are checked against, kept by the stage transitions themselves.

The submit script (``create_stage.lua``) checks a key's limits and counts the new stage as queued; every
later move between queued (SCHEDULED, PENDING), running (RUNNING) and ended is recorded as effects of the
move's compare-and-set (``queue_key_counts``, called from ``side_effects.queue_transition``), so a retry, a
cancel, a re-queue by the monitor or a release of a scheduled stage moves the run id between the sets in
the same atomic step. The counts are sorted sets of run ids, not integers: adding or removing one twice is
harmless, and ids whose record expired are dropped by age when the submit script reads them (no drift).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from config import keys
from state.models import StageRecord
from state.transitions import QUEUED, Status

KINDS = ("queued", "running", "submits")


@dataclass(frozen=True)
class SubmitKey:
    """The API key a submit comes with: its name and its limits from the settings file (JSON, ``""`` for none)."""

    name: str
    limits_json: bytes | str = ""


def count_keys(key: str, task_name: str) -> list[str]:
    """Return the submit script's count keys: the key's queued, running, submits; then the same for the task."""
    return [keys.key_count(key, kind) for kind in KINDS] + [keys.key_count(key, kind, task_name) for kind in KINDS]


def _kind(status: str) -> str | None:
    if status in QUEUED:
        return "queued"
    return "running" if status == Status.RUNNING else None


def queue_key_counts(effects: Any, run: str, old: StageRecord, new: StageRecord) -> bool:
    """Move run id ``run`` between its key's count sets as ``old`` -> ``new`` changes its kind; return whether."""
    if new.key is None:
        return False
    was, now = _kind(old.status), _kind(new.status)
    if was == now:
        return False
    if was is not None:
        effects.zrem(keys.key_count(new.key, was), run)
        effects.zrem(keys.key_count(new.key, was, new.task_name), run)
    if now is not None:
        effects.zadd_after(keys.key_count(new.key, now), 0, run)
        effects.zadd_after(keys.key_count(new.key, now, new.task_name), 0, run)
    return True


async def key_counts(client: Any, key: str, task_names: list[str]) -> dict[str, Any]:
    """Return a key's queued and running counts, overall and per task_name (for ``GET /v1/keys``).

    Counts may include run ids whose record expired until the next submit of the key drops them.
    """
    async with client.pipeline(transaction=False) as pipe:
        for kind in KINDS[:2]:
            pipe.zcard(keys.key_count(key, kind))
        for name in task_names:
            for kind in KINDS[:2]:
                pipe.zcard(keys.key_count(key, kind, name))
        found = await pipe.execute()
    counts: dict[str, Any] = {"queued": int(found[0]), "running": int(found[1]), "per_task": {}}
    for i, name in enumerate(task_names):
        queued, running = int(found[2 + 2 * i]), int(found[3 + 2 * i])
        if queued or running:
            counts["per_task"][name] = {"queued": queued, "running": running}
    return counts
