"""``/v1/batches``: one task over many inputs, one workflow per item, one callback when all have ended."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Annotated, Any

import msgspec
from aiohttp import web

from actors.gpu_memory import check_submit as check_gpu_memory
from actors.messages import stage_message
from actors.pipeline.definition import PREFIX as PIPELINE_PREFIX
from actors.registry import REGISTRY, TaskSpec
from actors.validation import InvalidInput, check_io, path_fields, validate_submit
from config import Settings, keys
from gateway.audit import audited
from gateway.auth import ADMIN, OPEN, PRINCIPAL, Principal
from gateway.batch_pipelines import check_items as check_pipeline_items
from gateway.batch_pipelines import create_items as create_pipeline_items
from gateway.batch_pipelines import pipeline_spec
from gateway.batch_views import batch_view, describe_routes, page_args
from gateway.bodies import decode_json, read_body
from gateway.callbacks import check_callback
from gateway.context import AppContext, context
from gateway.errors import UnknownTask
from gateway.paths import check_input_paths
from gateway.placement import placement
from gateway.request_errors import request_error
from gateway.responses import json_response
from state import CreateOutcome, StageFinished, TaskNotFound, TaskRequest
from state.batches import ENDED, BatchConflict, BatchMeta, BatchRecord, BatchStore, body_digest
from state.models import TASK_ID_PATTERN, CallbackUrl, TaskName, now_ms
from state.references import find_references

routes = web.RouteTableDef()

# An item id is "{batch_id}-{index}" and must still be a task id (at most 128 characters).
BatchId = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z", description="Letters, digits, '.', '_', '-'")
]
LabelKey = Annotated[str, msgspec.Meta(pattern=TASK_ID_PATTERN, max_length=64)]
LabelValue = Annotated[str, msgspec.Meta(max_length=256)]
_VALIDATE_CHUNK = 100  # items checked between two turns of the event loop
_CANCEL_AT_ONCE = 32


class BatchRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The body of ``POST /v1/batches``: one task_name, one ``input_data`` per item."""

    task_name: TaskName
    items: Annotated[list[dict[str, Any]], msgspec.Meta(min_length=1)]
    callback: CallbackUrl | None = None
    batch_id: BatchId | None = None
    labels: Annotated[dict[LabelKey, LabelValue], msgspec.Meta(max_length=32)] = msgspec.field(default_factory=dict)


def _decode(body: bytes) -> BatchRequest:
    try:
        return decode_json(body, BatchRequest)
    except msgspec.ValidationError as exc:
        raise request_error(exc, body) from None


def _at_item(exc: InvalidInput, index: int) -> InvalidInput:
    """Return the error of one item, its pointer and message moved from ``$.input_data`` to ``$.items[i]``."""
    where = f"$.items[{index}]"
    pointer = exc.pointer.replace("$.input_data", where, 1)
    return InvalidInput(f"item {index}: " + str(exc).replace("$.input_data", where), pointer)


def _check_files(spec: TaskSpec, items: list[dict[str, Any]], settings: Settings) -> None:
    """The checks that touch the file system (``check_io``, the path rules), for every item in turn."""
    for index, item in enumerate(items):
        try:
            check_io(spec, item, settings)
            check_input_paths(settings.share_root, path_fields(spec.input_type), item)
        except InvalidInput as exc:
            raise _at_item(exc, index) from None


def _no_references(item: dict[str, Any]) -> None:
    if refs := find_references(item):
        raise InvalidInput(
            f"each item is a workflow of one stage: it cannot refer to stage {sorted(refs)[0]!r}", "$.input_data"
        )


async def _check_items(spec: TaskSpec, items: list[dict[str, Any]], settings: Settings) -> None:
    """Check every item as a submit of ``spec`` would; the first failure refuses the whole batch.

    Raises:
        InvalidInput: an item does not fit (the pointer is ``$.items[i]...``), or refers to another stage.
    """
    for index, item in enumerate(items):
        try:
            validate_submit(spec, item)
            check_gpu_memory(spec, settings, item)
            _no_references(item)
        except InvalidInput as exc:
            raise _at_item(exc, index) from None
        if index % _VALIDATE_CHUNK == _VALIDATE_CHUNK - 1:
            await asyncio.sleep(0)
    if path_fields(spec.input_type) or spec.check is not None:  # realpath, stat: off the event loop
        await asyncio.to_thread(_check_files, spec, items, settings)


def _store(ctx: AppContext) -> BatchStore:
    return BatchStore(ctx.redis, ctx.settings.state_ttl_s)


@routes.post("/v1/batches")
async def submit_batch(request: web.Request) -> web.Response:
    """Create one workflow per item (``{batch_id}-{index}``) and the batch record; 201, or 200 for the same body."""
    ctx = context(request)
    req = _decode(await read_body(request))
    limit = ctx.settings.batches.max_items
    if len(req.items) > limit:
        raise InvalidInput(
            f"a batch holds at most {limit} items (batches.max_items); this one has {len(req.items)}", "$.items"
        )
    pipeline = req.task_name.startswith(PIPELINE_PREFIX)
    spec = await pipeline_spec(ctx.redis, req.task_name) if pipeline else REGISTRY.get(req.task_name)
    if spec is None:
        raise UnknownTask(f"unknown task_name {req.task_name!r}; GET /v1/task-types lists the tasks")
    if pipeline:  # each item expands into the pipeline's stages: all checked before anything is created
        expansions = await check_pipeline_items(ctx.redis, spec, req.items, ctx.settings)
    else:
        await _check_items(spec, req.items, ctx.settings)
    check_callback(ctx.settings.network_policy, req.callback)
    principal: Principal = request.get(PRINCIPAL, OPEN)
    meta = BatchMeta(
        batch_id=req.batch_id or uuid.uuid4().hex,
        task_name=spec.name,
        size=len(req.items),
        created_at_ms=now_ms(),
        callback=req.callback,
        labels=req.labels,
        owner=principal.name,
    )
    store = _store(ctx)
    digest = body_digest(spec.name, req.items, req.callback, req.labels)
    if not await ctx.redis.exists(keys.batch(meta.batch_id)) and (taken := await store.taken(meta.batch_id, meta.size)):
        raise BatchConflict(
            f"task id {keys.batch_item_id(meta.batch_id, taken[0])!r} (item {taken[0]}) is already used: "
            "choose another batch_id; nothing was created"
        )
    outcome = await store.create(meta, digest)
    record = await store.get(meta.batch_id)
    if record.items_created < record.meta.size and pipeline:
        await create_pipeline_items(ctx.store, meta.batch_id, spec.name, expansions)
        await ctx.redis.hset(keys.batch(meta.batch_id), "items_created", meta.size)  # type: ignore[misc]
        record = await store.get(meta.batch_id)
    elif record.items_created < record.meta.size:  # new, or a retry of a batch whose creation was interrupted
        await store.create_items(
            record.meta,
            req.items,
            lambda wid: stage_message(spec.queue, spec.name, wid),
            ctx.settings.batches.write_chunk,
            placement(request, ctx.settings, spec, TaskRequest(task_name=spec.name)),
        )
        record = await store.get(meta.batch_id)
    if outcome is CreateOutcome.CREATED:
        ctx.metrics.submitted(spec.name, record.meta.size)
    items = await store.items(meta.batch_id, 0, min(record.meta.size, 100))
    status = 201 if outcome is CreateOutcome.CREATED else 200
    return json_response(batch_view(record, items, 0), status, headers={"Location": f"/v1/batches/{meta.batch_id}"})


@routes.get("/v1/batches/{batch_id}")
async def get_batch(request: web.Request) -> web.Response:
    """Return a batch: counts by status, callback state, and a page of its items' task ids (``offset``, ``limit``)."""
    ctx = context(request)
    offset, limit = page_args(request)
    store = _store(ctx)
    record = await store.get(request.match_info["batch_id"])
    items = await store.items(record.meta.batch_id, offset, max(0, min(limit, record.meta.size - offset)))
    return json_response(batch_view(record, items, offset))


@routes.get("/v1/batches")
async def list_batches(request: web.Request) -> web.Response:
    """List recent batches, newest first (``limit``, at most 500)."""
    ctx = context(request)
    _offset, limit = page_args(request)
    found = await _store(ctx).recent(limit)
    return json_response({"batches": [batch_view(record, None, 0) for record in found]})


@routes.post("/v1/batches/{batch_id}/cancel")
@audited("batch.cancel")
async def cancel_batch(request: web.Request) -> web.Response:
    """Cancel every item not yet ended (the batch's owner or an admin): pending ones at once, running ones soon."""
    ctx = context(request)
    store = _store(ctx)
    record = await store.get(request.match_info["batch_id"])
    principal: Principal = request.get(PRINCIPAL, OPEN)
    if not principal.allows(ADMIN) and principal.name != record.meta.owner:
        raise web.HTTPForbidden(text=f"only the batch's owner ({record.meta.owner!r}) or an admin key can cancel it")
    await store.mark_cancel(record.meta.batch_id)
    await _cancel_items(ctx, record, store)
    record = await store.get(record.meta.batch_id)
    items = await store.items(record.meta.batch_id, 0, min(record.meta.size, 100))
    return json_response(batch_view(record, items, 0), 202)


async def _cancel_items(ctx: AppContext, record: BatchRecord, store: BatchStore) -> None:
    states = await store.items(record.meta.batch_id, 0, record.meta.size)
    open_ = [index for index, _rev, status in states if status not in ENDED]
    gate = asyncio.Semaphore(_CANCEL_AT_ONCE)

    async def cancel(index: int) -> None:
        async with gate:
            # an item that ended meanwhile (its event counts it) or was never created is left alone
            with contextlib.suppress(StageFinished, TaskNotFound):
                await ctx.store.request_cancel(keys.batch_item_id(record.meta.batch_id, index))

    await asyncio.gather(*(cancel(index) for index in open_))


describe_routes(BatchRequest, submit_batch, get_batch, list_batches, cancel_batch)
