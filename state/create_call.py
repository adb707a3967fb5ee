"""The submit script's call for a new stage: its record, and the keys and arguments of ``create_stage.lua``.

One builder for every submit path (a task, a batch's items, a pipeline's stages): the queue's message, its
priority lane, the key's limit counts and the search facets sit at the places the script's header names.

A new PENDING stage's message carries the stage's record as the script stores it (revision 1), in the message
option ``STAGE_OPTION``: the worker starts the stage from it without reading the workflow, with a
compare-and-set that holds only while the stage is still at revision 1 under this very message
(``actors/worker/starts.py``). A record over ``EMBED_MAX_BYTES``, or one whose input refers to other stages
(resolved from the workflow anyway), is not carried.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from config import keys
from redis_io import LuaScript
from state.limits import SubmitKey, count_keys
from state.models import StageRecord, WorkflowMeta, input_hash, now_ms
from state.references import find_references
from state.search import Origin
from state.transitions import Status

CREATE_STAGE = LuaScript.load("state", "create_stage")
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()
# the message option that carries a new stage's record, and the largest record carried (bytes of JSON)
STAGE_OPTION = "taskgate_stage"
EMBED_MAX_BYTES = 4096


@dataclass(frozen=True)
class QueuedMessage:
    """A Dramatiq message to queue atomically with a new stage (encoded by the caller)."""

    queue: str
    message_id: str
    payload: bytes


@dataclass(frozen=True)
class Placement:
    """Who submits a stage and how it waits: its priority band, its client (tenant, else key name) and weight.

    ``lanes``: queue the message in the client's lane of its band (priorities on), else on the queue's list.
    """

    priority: str
    client: str
    weight: int = 1
    key: str | None = None
    tenant: str | None = None
    lanes: bool = True


def create_stage_call(  # noqa: PLR0917  (the stage's fields, as create_stage takes them)
    workflow_id: str,
    task_name: str,
    input_data: dict[str, Any],
    callback: str | None,
    message: QueuedMessage | None,
    ttl_ms: int,
    *,
    trim: bool,
    run_at_ms: int | None = None,
    key: SubmitKey | None = None,
    placement: Placement | None = None,
    origin: Origin | None = None,
    callback_stage: str | None = None,
    input_params: dict[str, Any] | None = None,
) -> tuple[bytes, bytes, list[str], list[Any]]:
    """Return the stage and meta JSON, and the keys and arguments of ``create_stage.lua`` for a new stage."""
    created = now_ms()
    digest = input_hash(task_name, input_data)
    owner = key.name if key else (placement.key if placement else None)
    stage = StageRecord(
        task_name=task_name,
        status=Status.SCHEDULED if run_at_ms else Status.PENDING,
        input_data=input_data,
        input_hash=digest,
        created_at_ms=created,
        updated_at_ms=created,
        run_at_ms=run_at_ms,
        key=owner,
        priority=placement.priority if placement else None,
    )
    meta = WorkflowMeta(
        workflow_id=workflow_id,
        created_at_ms=created,
        input_params=input_params if input_params is not None else input_data,
        shared_storage_path=f"workflows/{workflow_id}",
        callback=callback,
        key=owner,
        tenant=placement.tenant if placement else None,
    )
    if origin is not None:
        meta.key, meta.tenant, meta.labels = origin.key, origin.tenant, origin.labels
    facets = origin.facet_keys() if origin is not None else []
    stage_json, meta_json = _encoder.encode(stage), _encoder.encode(meta)
    state_key = keys.workflow_state(workflow_id)
    queue_keys = [state_key] * 3
    if message is not None:
        queue_keys = [
            keys.dramatiq_queue(message.queue),
            keys.dramatiq_messages(message.queue),
            keys.broker_wake(message.queue),
        ]
    script_keys = [
        state_key,
        keys.TASK_INDEX,
        keys.task_index_by_name(task_name),
        keys.STORAGE_SWEEP,
        keys.PENDING_STAGES,
        keys.EVENTS,
        *queue_keys,
        keys.SCHEDULED_STAGES,
        keys.KEY_LIMITS,
    ]
    lanes = message is not None and placement is not None and placement.lanes
    if message is not None and placement is not None and lanes:
        rotation, _turns, ages = keys.lane_keys(message.queue, placement.priority)
        lane = keys.lane(message.queue, placement.priority, placement.client)
        script_keys += [lane, rotation, ages, keys.CLIENT_WEIGHTS, keys.lanes_queued(message.queue)]
    else:
        script_keys += [state_key] * 5
    script_keys += [keys.FACETS, *facets]
    if key is not None:
        script_keys += count_keys(key.name, task_name)
    args: list[Any] = [
        task_name,
        digest,
        stage_json,
        meta_json,
        ttl_ms,
        created,
        workflow_id,
        keys.EVENTS_KEPT,
        (callback_stage or 1) if callback else 0,  # a stage name: only that stage's ending is called back
        1 if trim else 0,
        message.message_id if message else "",
        _payload(message, stage_json, input_data, run_at_ms),
        keys.BROKER_WAKE_KEPT,
        message.queue if message else "",
        run_at_ms or 0,
        key.name if key else "",  # counted and limited only with the key's count keys
        key.limits_json if key else "",
        placement.client if placement is not None and lanes else "",
        placement.weight if placement is not None else 0,
        len(facets),
    ]
    return stage_json, meta_json, script_keys, args


def _payload(
    message: QueuedMessage | None, stage_json: bytes, input_data: dict[str, Any], run_at_ms: int | None
) -> bytes | str:
    """Return the message to queue: a PENDING stage's carries its record (see the module's docstring)."""
    if message is None:
        return ""
    if run_at_ms or len(stage_json) > EMBED_MAX_BYTES or find_references(input_data):
        return message.payload
    return with_stage(message.payload, stage_json)


def with_stage(payload: bytes, stage_json: bytes) -> bytes:
    """Return the encoded message ``payload`` with the stage record ``stage_json`` in its ``STAGE_OPTION``.

    A payload that is not a JSON message (another Dramatiq encoder) is returned as it is.
    """
    try:
        message = _decoder.decode(payload)
    except msgspec.DecodeError:
        return payload
    options = message.get("options") if isinstance(message, dict) else None
    if not isinstance(options, dict):
        return payload
    options[STAGE_OPTION] = msgspec.Raw(stage_json)
    return _encoder.encode(message)


__all__ = ["CREATE_STAGE", "EMBED_MAX_BYTES", "STAGE_OPTION", "Placement", "QueuedMessage", "create_stage_call"]
