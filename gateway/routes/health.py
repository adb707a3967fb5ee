"""Liveness, readiness, the task catalogue and ``/metrics`` (with the middleware that refreshes its figures)."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from actors.gpu_memory import requested_mb
from actors.registry import REGISTRY, TaskSpec
from gateway.context import CTX, AppContext, context
from gateway.problems import Handler
from gateway.queue_coverage import QueueWorkers
from gateway.responses import json_response

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """Answer 200 while the process is up."""
    return json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Answer 200 when Redis answers, else 503 (a problem document, via the error table)."""
    ctx = context(request)
    await ctx.redis.ping()
    return json_response({"status": "ready", "redis": "ok"})


def task_type(spec: TaskSpec, ctx: AppContext, workers: dict[str, QueueWorkers]) -> dict[str, Any]:
    """Describe one task for clients, with whether a live worker serves its queue and its engine is ready."""
    (input_schema, output_schema), defs = msgspec.json.schema_components([spec.input_type, spec.output_type])
    return {
        "task_name": spec.name,
        "description": spec.description,
        "queue": spec.queue,
        "uses_gpu": spec.uses_gpu(ctx.settings),
        "gpu_memory_mb": requested_mb(spec, ctx.settings),
        "input_schema": {**input_schema, "$defs": defs},
        "output_fields": [f.encode_name for f in msgspec.structs.fields(spec.output_type)],
        "output_schema": {**output_schema, "$defs": defs},
        **workers.get(spec.queue, QueueWorkers()).view(),
    }


@routes.get("/v1/task-types")
async def task_types(request: web.Request) -> web.Response:
    """List every registered task: input schema, output fields, queue, GPU use, live workers and engine state."""
    ctx = context(request)
    workers = await ctx.workers.get(ctx.redis, ctx.settings.gpu_lock_monitor)
    return json_response({"task_types": [task_type(spec, ctx, workers) for spec in REGISTRY.values()]})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Expose Prometheus metrics."""
    ctx = context(request)
    return web.Response(body=ctx.metrics.render(), headers={"Content-Type": ctx.metrics.content_type})


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refresh the Redis figures right before ``/metrics`` renders them."""
    if request.path == "/metrics" and CTX in request.app:
        ctx = request.app[CTX]
        await ctx.metrics.refresh(ctx.redis, ctx.live.current)
    return await handler(request)
