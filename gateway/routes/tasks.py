"""``/v1/tasks``: submit, read, result, cancel and list."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import msgspec
import structlog
from aiohttp import web
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from actors.gpu_memory import check_submit as check_gpu_memory
from actors.messages import stage_message
from actors.pipeline.definition import PREFIX as PIPELINE_PREFIX
from actors.registry import REGISTRY, TaskSpec
from actors.validation import InvalidInput, check_io, path_fields, validate_submit
from config import Settings
from gateway.audit import audited
from gateway.auth import ADMIN, PRINCIPAL, keyring
from gateway.bodies import decode_json, read_body
from gateway.callbacks import check_callback
from gateway.context import AppContext, context
from gateway.errors import BadQuery, BadRequest, SubmitUnconfirmed, UnknownTask
from gateway.paths import check_input_paths
from gateway.pipeline_submit import cancel_inner, submit_pipeline
from gateway.placement import placement
from gateway.problems import limit_response
from gateway.request_errors import request_error
from gateway.responses import json_response
from gateway.scheduling import start_time_ms
from gateway.submit_limits import retry_after_s, submit_key
from gateway.task_filters import TenantForbidden, from_query
from state import CreateOutcome, LimitExceeded, StageNotTerminal, Status, TaskRequest, is_terminal, workflow_view
from state.references import find_references
from state.retention import AsyncRetention
from state.search import Origin, search

routes = web.RouteTableDef()
log = structlog.get_logger(__name__)

_encoder = msgspec.json.Encoder()
_LIST_MAX = 500
_LIVE_MAX_AGE_S = 1.0
# /v1/tasks/retry and /v1/tasks/cancel are the bulk actions: no task may take those ids
RESERVED_IDS = frozenset({"retry", "cancel"})


def _decode_request(body: bytes) -> TaskRequest:
    try:
        return decode_json(body, TaskRequest)
    except msgspec.ValidationError as exc:
        raise request_error(exc, body) from None


def _check_files(spec: TaskSpec, data: dict[str, Any], settings: Settings) -> None:
    """The submit checks that touch the file system: ``check_io``, then the path rules of ``/v1/files``."""
    check_io(spec, data, settings)
    check_input_paths(settings.share_root, path_fields(spec.input_type), data)


async def _live_settings(ctx: AppContext) -> Settings:
    """Return the settings with the live sections at most a second old; a failed refresh is not the submit's."""
    try:
        return await ctx.live.refresh_within(ctx.redis, _LIVE_MAX_AGE_S)
    except (RedisConnectionError, RedisTimeoutError):
        log.warning("live_settings_refresh_failed")
        return ctx.settings


@routes.post("/v1/tasks")
async def submit_task(request: web.Request) -> web.Response:
    """Create a task (or a new stage of an existing workflow) and queue it."""
    ctx = context(request)
    req = _decode_request(await read_body(request))
    if req.task_name.startswith(PIPELINE_PREFIX):
        return await submit_pipeline(request, req)
    spec = REGISTRY.get(req.task_name)
    if spec is None:
        raise UnknownTask(f"unknown task_name {req.task_name!r}; GET /v1/task-types lists the tasks")
    validate_submit(spec, req.input_data)
    check_gpu_memory(spec, ctx.settings, req.input_data)
    if path_fields(spec.input_type) or spec.check is not None:  # realpath, stat, voice files: off the event loop
        await asyncio.to_thread(_check_files, spec, req.input_data, ctx.settings)
    check_callback(ctx.settings.network_policy, req.callback)
    start_at = start_time_ms(req, ctx.settings.state_ttl_s)
    key = submit_key(request, ctx.settings)
    settings = await _live_settings(ctx)  # the queueing section can change at run time: read at most once a second
    placed = placement(request, settings, spec, req)
    workflow_id = req.task_id or uuid.uuid4().hex
    if workflow_id in RESERVED_IDS:
        raise InvalidInput(
            f"task_id {workflow_id!r} is reserved (POST /v1/tasks/{workflow_id}); pick another", "$.task_id"
        )
    for name in find_references(req.input_data):
        if name == req.task_name:
            raise BadRequest(f"a stage cannot refer to its own output ({name})")
    queued = stage_message(spec.queue, spec.name, workflow_id)
    origin = _origin(request, req, placed.tenant)
    try:
        outcome, workflow = await ctx.store.create_stage(
            workflow_id,
            req.task_name,
            req.input_data,
            req.callback,
            queued,
            run_at_ms=start_at,
            key=key,
            placement=placed,
            origin=origin,
        )
    except LimitExceeded as exc:
        ctx.metrics.throttled(exc.key, exc.limit)
        log.info("submit_throttled", key=exc.key, limit=exc.limit, value=exc.value, current=exc.current)
        return limit_response(exc, await retry_after_s(request, exc, spec.name), request.path)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        # The script may have run before the reply was lost: name the task, so a retry cannot run it twice.
        raise SubmitUnconfirmed(
            f"Redis did not confirm the submit; the task may exist as task_id {workflow_id!r}: "
            "retry with that task_id (the same input is accepted once) or GET /v1/tasks/{task_id}",
            workflow_id,
        ) from exc
    if outcome is CreateOutcome.CREATED:
        ctx.metrics.submitted(spec.name)
    status = 202 if outcome is CreateOutcome.CREATED else 200
    view = workflow_view(workflow)
    try:
        warnings = await ctx.workers.warnings(ctx.redis, ctx.settings.gpu_lock_monitor, spec.queue)
    except RedisError as exc:  # the task exists: its answer must say so, whatever the worker check did
        log.warning("submit_worker_check_failed", task_id=workflow_id, error=str(exc))
        warnings = ["the live workers could not be read just now: whether a worker serves this queue is unknown"]
    if warnings:
        view["warnings"] = warnings  # accepted all the same: queues are durable
    return json_response(view, status, headers={"Location": f"/v1/tasks/{workflow_id}"})


def _origin(request: web.Request, req: TaskRequest, tenant: str | None) -> Origin:
    """Return who submits (the key's name when keys are on), its tenant (asked for, else its key's) and labels."""
    principal = request[PRINCIPAL]
    if req.tenant is not None and not principal.allows(ADMIN):
        raise TenantForbidden(f"only an admin key may set tenant; key {principal.name!r} is not one")
    key = principal.name if keyring(request.app).enabled else None
    return Origin(key=key, tenant=tenant, labels=req.labels)


@routes.get("/v1/tasks/{task_id:(?!(?:retry|cancel)$)[^/]+}")
async def get_task(request: web.Request) -> web.Response:
    """Return the workflow context of a task."""
    ctx = context(request)
    return json_response(workflow_view(await ctx.store.get(request.match_info["task_id"])))


@routes.get("/v1/tasks/{task_id}/result")
async def get_result(request: web.Request) -> web.Response:
    """Return the latest stage's output once it has ended."""
    ctx = context(request)
    wf = await ctx.store.get(request.match_info["task_id"])
    stage = wf.latest_stage
    if not is_terminal(stage.status):
        raise StageNotTerminal(f"task {wf.meta.workflow_id!r} is {stage.status}; poll GET /v1/tasks/{{task_id}}")
    error = msgspec.to_builtins(stage.error) if stage.error else None
    return json_response(
        {
            "task_id": wf.meta.workflow_id,
            "task_name": wf.latest,
            "status": stage.status,
            "output": stage.output,
            "error": error,
        }
    )


@routes.delete("/v1/tasks/{task_id:(?!(?:retry|cancel)$)[^/]+}")
@audited(lambda request: "task.purge" if request.query.get("purge") == "true" else "task.cancel")
async def cancel_task(request: web.Request) -> web.Response:
    """Cancel a task: a pending one ends now, a running one stops at its next checkpoint.

    With ``?purge=true``: delete a finished task's record and its files under ``workflows/{task_id}/``.
    """
    ctx = context(request)
    task_id = request.match_info["task_id"]
    purge = request.query.get("purge", "false")
    if purge not in ("true", "false"):
        raise BadQuery("purge must be true or false")
    if purge == "true":
        purged = await AsyncRetention(ctx.redis).purge(ctx.settings.share_root, task_id)
        return json_response({**workflow_view(purged), "storage_bytes": 0})
    stage = await ctx.store.request_cancel(task_id)
    await cancel_inner(ctx.store, task_id)
    view = workflow_view(await ctx.store.get(task_id))
    return json_response(view, 200 if stage.status == Status.CANCELLED else 202)


@routes.get("/v1/tasks")
async def list_tasks(request: web.Request) -> web.Response:
    """Search tasks, newest first, by task name, status, key, tenant, labels, error type and time; paged by cursor.

    ``status`` and ``error_type`` are those of the ``task_name`` stage when one is given, else of the latest
    stage. A page may come back short with a ``next_cursor`` (one request reads a bounded part of the index).
    """
    ctx = context(request)
    selector = from_query(request.query)
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError:
        raise BadQuery("limit must be an integer") from None
    if not 1 <= limit <= _LIST_MAX:
        raise BadQuery(f"limit must be between 1 and {_LIST_MAX}")
    ids, next_cursor = await search(ctx.store.channel, ctx.store.ttl_ms, selector, limit, request.query.get("cursor"))
    found = await ctx.store.get_many(ids)
    tasks = [_summary(workflow_view(wf), selector.task_name) for wf in found]
    return json_response({"tasks": tasks, "next_cursor": next_cursor})


def _summary(view: dict[str, Any], task_name: str | None) -> dict[str, Any]:
    keep = ("task_id", "task_name", "status", "created_at", "updated_at", "error", "key", "tenant", "labels")
    latest = view["stages"][view["task_name"]]
    summary = {k: view[k] for k in keep} | {
        k: latest[k] for k in ("progress", "started_at", "finished_at", "duration_s")
    }
    if task_name:  # the row shows the latest stage; say which stage the filter matched, and how it stands
        summary["matched_stage"] = {"task_name": task_name, "status": view["stages"][task_name]["status"]}
    return summary
