"""What the async and the sync store share, without I/O: parsing the hash, and one stage's compare-and-set.

``StateStore`` (asyncio, the gateway and the monitor) and ``SyncStageStore`` (a worker thread) send these
through different clients; the rules (legal transitions, effects that commit with the change, fencing) and
the Lua script are the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from config import keys
from redis_io import LuaScript, text
from state.effects import Effects
from state.errors import LeaseNotHeld, TaskNotFound
from state.models import StageRecord, Workflow, WorkflowMeta, now_ms
from state.side_effects import queue_transition
from state.transitions import Status, check_transition

UPDATE_STAGE = LuaScript.load("state", "update_stage")
PARK_WAITER = LuaScript.load("state", "park_waiter")
HAND_OVER = LuaScript.load("state", "hand_over")
MAX_CAS_ATTEMPTS = 50

_stage_decoder = msgspec.json.Decoder(StageRecord)
_meta_decoder = msgspec.json.Decoder(WorkflowMeta)
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class Fence:
    """A GPU lease a stage commit is conditional on."""

    holders_key: str
    token: str


def parse_workflow(raw: Mapping[Any, Any]) -> Workflow | None:
    """Build a ``Workflow`` from the fields of its hash, or None when the hash is empty."""
    if not raw or b"meta" not in raw:
        return None
    stages: dict[str, StageRecord] = {}
    progress: dict[str, float] = {}
    cancel: set[str] = set()
    callbacks: dict[str, dict[str, Any]] = {}
    revisions: dict[str, int] = {}
    for field, value in raw.items():
        kind, _, name = text(field).partition(":")
        if kind == "stage":
            stages[name] = _stage_decoder.decode(value)
        elif kind == "callback":
            callbacks[name] = msgspec.json.decode(value)
        elif kind == "rev":
            revisions[name] = int(value)
        elif kind == "progress":
            progress[name] = float(value)
        elif kind == "cancel":
            cancel.add(name)
    if not stages:
        return None
    ordered = dict(sorted(stages.items(), key=lambda item: item[1].created_at_ms))
    size, removed = raw.get(b"storage_bytes"), raw.get(b"files_removed_ms")
    return Workflow(
        meta=_meta_decoder.decode(raw[b"meta"]),
        stages=ordered,
        progress=progress,
        cancel_requested=frozenset(cancel),
        latest=text(raw[b"latest"]),
        callbacks=callbacks,
        revisions=revisions,
        storage_bytes=int(size) if size is not None else None,
        files_removed_ms=int(removed) if removed is not None else None,
    )


def stage_fields(task_name: str) -> list[str]:
    """Return the hash fields that hold a stage's record and its revision."""
    return [f"stage:{task_name}", f"rev:{task_name}"]


def parse_stage(workflow_id: str, task_name: str, raw: Any, rev: Any) -> tuple[StageRecord, int]:
    """Build a stage and its revision from their two fields.

    Raises:
        TaskNotFound: either field is missing.
    """
    if raw is None or rev is None:
        raise TaskNotFound(f"task {workflow_id!r} has no {task_name!r} stage")
    return _stage_decoder.decode(raw), int(rev)


def prepare_change(
    workflow_id: str,
    current: StageRecord,
    change: Callable[[StageRecord], StageRecord],
    also: Callable[[Effects, StageRecord], None] | None,
    metrics: Any = None,
) -> tuple[StageRecord, Effects]:
    """Apply ``change`` to a copy of ``current``; return the new record and the writes that commit with it.

    The task figures the change adds go to ``metrics`` when given (a worker batches them), else to the effects.

    Raises:
        IllegalTransition: ``change`` asked for a move the table forbids.
    """
    new = change(msgspec.structs.replace(current))
    if new.status != current.status or new.status == Status.RUNNING:
        check_transition(current.status, new.status)
    new.updated_at_ms = now_ms()
    effects = Effects(first_key=5)
    if new.status != current.status:
        queue_transition(effects, workflow_id, current, new, metrics)
    if also is not None:
        also(effects, new)
    return new, effects


# An ending skips the TTL renewal of a stage created less than this fraction of the TTL before (7 days: 10 min).
RENEW_AFTER = 0.001


def cas_call(
    key: str,
    task_name: str,
    rev: int,
    new: StageRecord,
    *,
    ttl_ms: int,
    fence: Fence | None,
    effects: Effects | None,
    message_note: str | None = None,
) -> tuple[list[str], list[Any]]:
    """Return the KEYS and ARGV of ``update_stage.lua`` for one stage.

    ``message_note``: the set also needs the stage's latest message to be this one (its queue and Redis message
    id, as the record notes them).

    An ending renews the workflow's TTL, unless the stage was created less than ``RENEW_AFTER`` of the TTL
    before (its submit set the TTL then: the record expires at most that much before a full TTL after its end).
    """
    script_keys = [key, keys.WEBHOOK_OUTBOX, fence.holders_key if fence else key, keys.EVENTS]
    changed = new.updated_at_ms or new.finished_at_ms
    renew = ttl_ms if changed is None or changed - new.created_at_ms >= ttl_ms * RENEW_AFTER else 0
    expected = f"{rev}\n{message_note}" if message_note else rev
    args: list[Any] = [task_name, expected, new.status, _encoder.encode(new), renew, fence.token if fence else ""]
    args += [keys.workflow_id_of(key), keys.EVENTS_KEPT]
    if effects is not None and effects.ops:
        script_keys += effects.keys
        args += effects.args()
    return script_keys, args


def waiter_entry(queue: str, task_name: str, message_id: str, payload: bytes, lane: str = "") -> bytes:
    """Return a parked message as ``park_waiter.lua`` stores it (encoded messages hold no tab or newline).

    ``lane``: ``priority|weight|client`` to queue it in that client's lane of its band when it is handed over
    (priorities on), else empty: the queue's own list.
    """
    return b"\t".join((queue.encode(), task_name.encode(), message_id.encode(), lane.encode(), payload))


def park_call(key: str, awaited: str, entry: bytes) -> tuple[list[str], list[Any]]:
    """Return the KEYS and ARGV of ``park_waiter.lua``."""
    return [key], [awaited, entry, entry.split(b"\t", 2)[1]]


def hand_over_call(key: str, ended: str, parked: bytes) -> tuple[list[str], list[Any]]:
    """Return the KEYS and ARGV of ``hand_over.lua`` for the entries ``parked`` on stage ``ended``.

    An entry parked before lanes existed has four fields (no lane): it goes to the queue's list.
    """
    script_keys = [key]
    args: list[Any] = [ended, parked, keys.BROKER_WAKE_KEPT]
    for line in parked.split(b"\n"):
        parts = line.split(b"\t", 4)
        queue, task_name, message_id, payload = (*parts[:3], parts[-1])
        lane = parts[3].decode() if len(parts) == 5 else ""
        name = queue.decode()
        script_keys += [keys.dramatiq_queue(name), keys.dramatiq_messages(name), keys.broker_wake(name)]
        if lane:
            priority, weight, client = lane.split("|", 2)
            rotation, _turns, ages = keys.lane_keys(name, priority)
            script_keys += [keys.lane(name, priority, client), rotation, ages, keys.CLIENT_WEIGHTS]
            script_keys.append(keys.lanes_queued(name))
            args += [queue, task_name, message_id, payload, client, weight]
        else:  # the queue's list: the lane keys are not touched (the list's key stands in for them)
            script_keys += [keys.dramatiq_queue(name)] * 5
            args += [queue, task_name, message_id, payload, "", 0]
    return script_keys, args


def has_waiters(reply: Any) -> bool:
    """Return whether a committed ``update_stage.lua`` ended a stage that messages are parked on."""
    return len(reply) > 2 and int(reply[2]) == 1


def cas_outcome(reply: Any, workflow_id: str, task_name: str) -> int | None:
    """Return the new revision of a committed update, or None when another writer got there first.

    Raises:
        TaskNotFound: the stage does not exist.
        LeaseNotHeld: the fencing GPU lease is no longer held.
    """
    code = int(reply[0])
    if code == 1:
        return int(reply[1])
    if code == -1:
        raise TaskNotFound(f"task {workflow_id!r} has no {task_name!r} stage")
    if code == -2:
        raise LeaseNotHeld(f"the GPU lease of {task_name!r} was lost; its result is not committed")
    return None
