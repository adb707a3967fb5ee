"""``/v1/tasks``: submit, read, result, cancel and list."""

from __future__ import annotations

import uuid
from typing import Any

import dramatiq
import msgspec
from aiohttp import web

from actors.broker import encode_message
from actors.registry import REGISTRY
from actors.validation import validate_submit
from gateway.context import AppContext
from gateway.errors import BadRequest, UnknownTask
from gateway.webhooks import check_callback
from state import CreateOutcome, QueuedMessage, StageNotTerminal, Status, TaskRequest, is_terminal, workflow_view
from state.references import find_references

routes = web.RouteTableDef()

_request_decoder = msgspec.json.Decoder(TaskRequest)
_encoder = msgspec.json.Encoder()
_LIST_MAX = 500


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Encode ``data`` with msgspec."""
    return web.Response(body=_encoder.encode(data), status=status, content_type="application/json", headers=headers)


def _decode_request(body: bytes) -> TaskRequest:
    try:
        return _request_decoder.decode(body)
    except msgspec.ValidationError as exc:
        from actors.validation import InvalidInput  # noqa: PLC0415

        text = str(exc)
        pointer = text.rsplit("`", 2)[-2] if text.count("`") >= 2 else "$"
        raise InvalidInput(text, pointer) from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None


@routes.post("/v1/tasks")
async def submit_task(request: web.Request) -> web.Response:
    """Create a task (or a new stage of an existing workflow) and queue it."""
    ctx: AppContext = request.app["ctx"]
    req = _decode_request(await request.read())
    spec = REGISTRY.get(req.task_name)
    if spec is None:
        raise UnknownTask(f"unknown task_name {req.task_name!r}; GET /v1/task-types lists the tasks")
    validate_submit(spec, req.input_data, ctx.settings.share_root)
    check_callback(ctx.settings, req.callback)
    workflow_id = req.task_id or uuid.uuid4().hex
    for name in find_references(req.input_data):
        if name == req.task_name:
            raise BadRequest(f"a stage cannot refer to its own output ({name})")
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=spec.queue,
        actor_name=spec.name,
        args=({"workflow_id": workflow_id, "task_name": spec.name},),
        kwargs={},
        options={"redis_message_id": str(uuid.uuid4())},
    )
    queued = QueuedMessage(
        queue=spec.queue, message_id=message.options["redis_message_id"], payload=encode_message(message)
    )
    outcome, workflow = await ctx.store.create_stage(workflow_id, req.task_name, req.input_data, req.callback, queued)
    if outcome is CreateOutcome.CREATED:
        ctx.metrics.submitted(spec.name)
    status = 202 if outcome is CreateOutcome.CREATED else 200
    return json_response(workflow_view(workflow), status, headers={"Location": f"/v1/tasks/{workflow_id}"})


@routes.get("/v1/tasks/{task_id}")
async def get_task(request: web.Request) -> web.Response:
    """Return the workflow context of a task."""
    ctx: AppContext = request.app["ctx"]
    return json_response(workflow_view(await ctx.store.get(request.match_info["task_id"])))


@routes.get("/v1/tasks/{task_id}/result")
async def get_result(request: web.Request) -> web.Response:
    """Return the latest stage's output once it has ended."""
    ctx: AppContext = request.app["ctx"]
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


@routes.delete("/v1/tasks/{task_id}")
async def cancel_task(request: web.Request) -> web.Response:
    """Cancel a task: a pending one ends now, a running one stops at its next checkpoint."""
    ctx: AppContext = request.app["ctx"]
    task_id = request.match_info["task_id"]
    await ctx.store.request_cancel(task_id)
    view = workflow_view(await ctx.store.get(task_id))
    return json_response(view, 202 if view["status"] != Status.CANCELLED else 200)


@routes.get("/v1/tasks")
async def list_tasks(request: web.Request) -> web.Response:
    """List recent tasks, newest first, filtered by status and task_name."""
    ctx: AppContext = request.app["ctx"]
    status = request.query.get("status")
    if status is not None and status not in Status.__members__:
        raise BadRequest(f"status must be one of {', '.join(Status.__members__)}")
    task_name = request.query.get("task_name")
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError:
        raise BadRequest("limit must be an integer") from None
    if not 1 <= limit <= _LIST_MAX:
        raise BadRequest(f"limit must be between 1 and {_LIST_MAX}")
    found = await ctx.store.list_recent(task_name, status, limit)
    return json_response({"tasks": [_summary(wf) for wf in map(workflow_view, found)]})


def _summary(view: dict[str, Any]) -> dict[str, Any]:
    keep = ("task_id", "task_name", "status", "created_at", "updated_at", "error")
    latest = view["stages"][view["task_name"]]
    return {k: view[k] for k in keep} | {k: latest[k] for k in ("progress", "started_at", "finished_at", "duration_s")}
