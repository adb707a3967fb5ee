"""Submit a pipeline: check its input and every stage it expands to, then create them all in one step."""

from __future__ import annotations

import asyncio
import typing
import uuid
from typing import Any

import msgspec
import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError

from actors.gpu_memory import check_submit as check_gpu_memory
from actors.messages import stage_message
from actors.pipeline.definition import PREFIX, Definition, decode_definition
from actors.pipeline.expand import Expansion, expand
from actors.pipeline.tasks import RUN_TASK, RunInput, builtin_definitions, spec_of
from actors.pipeline.templates import INPUT_REFERENCE
from actors.registry import REGISTRY, TaskSpec
from actors.validation import InvalidInput, check_io, decode_input, path_fields, validate_submit
from config import Settings, keys
from gateway.callbacks import check_callback
from gateway.context import context
from gateway.errors import UnknownTask
from gateway.paths import check_input_paths
from gateway.responses import json_response
from state import CreateOutcome, StageFinished, StateStore, TaskRequest, is_terminal, workflow_view
from state.stages_create import NewStage, create_stages


async def stored_names(redis: aioredis.Redis) -> list[str]:
    """Return the task names of every pipeline: built-in and kept in Redis."""
    stored = await redis.hkeys(keys.PIPELINES)  # type: ignore[misc]
    names = {PREFIX + (n.decode() if isinstance(n, bytes) else n) for n in stored}
    return sorted(names | set(builtin_definitions()))


async def find_definition(redis: aioredis.Redis, task_name: str) -> Definition:
    """Return the definition submitted as ``task_name``.

    Raises:
        UnknownTask: no pipeline has this name (the message lists them).
    """
    builtin = builtin_definitions().get(task_name)
    if builtin is not None:
        return builtin
    raw = await redis.hget(keys.PIPELINES, task_name.removeprefix(PREFIX))  # type: ignore[misc]
    if raw is None:
        names = ", ".join(await stored_names(redis))
        raise UnknownTask(f"unknown pipeline {task_name!r}; the pipelines are: {names} (GET /v1/pipelines)")
    return decode_definition(raw)


def checked_expansion(definition: Definition, spec: TaskSpec, data: dict[str, Any], settings: Settings) -> Expansion:
    """Check the pipeline's input and each stage's input as a submit of that task would; return the expansion."""
    inputs = msgspec.to_builtins(decode_input(spec, data))
    expansion = expand(definition, inputs)
    templates = {stage.task: stage.input for stage in definition.stages}
    for task, stage_data in expansion.stages:
        inner = REGISTRY[task]
        try:
            validate_submit(inner, stage_data)
            check_gpu_memory(inner, settings, stage_data)
        except InvalidInput as exc:
            raise _in_stage(exc, task, templates[task]) from None
    return expansion


def check_pipeline_files(
    spec: TaskSpec, data: dict[str, Any], stages: list[tuple[str, dict[str, Any]]], settings: Settings
) -> None:
    """The checks that touch the file system, for the pipeline's input and each stage's (off the event loop)."""
    check_input_paths(settings.share_root, path_fields(spec.input_type), data)
    check_io(spec, data, settings)
    for task, stage_data in stages:
        try:
            check_io(REGISTRY[task], stage_data, settings)
        except InvalidInput as exc:
            raise _in_stage(exc, task, {}) from None


def _in_stage(exc: InvalidInput, task: str, template: dict[str, Any]) -> InvalidInput:
    """Say which stage refused its input; point at the pipeline's input when the field came from it."""
    field = exc.pointer.removeprefix("$.input_data.").split(".")[0].split("[")[0]
    source = template.get(field)
    whole = INPUT_REFERENCE.fullmatch(source.strip()) if isinstance(source, str) else None
    pointer = f"$.input_data.{whole.group(1)}" if whole else exc.pointer
    return InvalidInput(f"stage {task}: {exc}", pointer)


async def submit_pipeline(request: web.Request, req: TaskRequest) -> web.Response:
    """Expand a pipeline into its stages and create them, with its own stage last; answer like a task submit."""
    ctx = context(request)
    task_name, data = req.task_name, req.input_data
    if task_name == RUN_TASK:
        run = typing.cast("RunInput", decode_input(REGISTRY[RUN_TASK], data))
        task_name, data = PREFIX + run.pipeline, run.input
    definition = await find_definition(ctx.redis, task_name)
    spec = spec_of(definition)
    expansion = checked_expansion(definition, spec, data, ctx.settings)
    await asyncio.to_thread(check_pipeline_files, spec, data, expansion.stages, ctx.settings)
    check_callback(ctx.settings.network_policy, req.callback)
    workflow_id = req.task_id or uuid.uuid4().hex
    actor = task_name if task_name in REGISTRY else RUN_TASK
    new = [NewStage(t, d, stage_message(REGISTRY[t].queue, t, workflow_id)) for t, d in expansion.stages]
    new.append(NewStage(task_name, expansion.gather, stage_message("system", task_name, workflow_id, actor=actor)))
    outcome, workflow = await create_stages(
        ctx.store, workflow_id, new, callback=req.callback, input_params=expansion.gather["input"]
    )
    if outcome is CreateOutcome.CREATED:
        for stage in new:
            ctx.metrics.submitted(stage.task_name if stage.task_name in REGISTRY else RUN_TASK)
    view = workflow_view(workflow)
    warnings: list[str] = []
    for queue in dict.fromkeys(REGISTRY[t].queue for t, _ in expansion.stages) | {"system": None}:
        try:
            warnings += await ctx.workers.warnings(ctx.redis, ctx.settings.gpu_lock_monitor, queue)
        except RedisError:
            warnings.append(
                "the live workers could not be read just now: whether a worker serves this queue is unknown"
            )
            break
    if warnings:
        view["warnings"] = list(dict.fromkeys(warnings))
    status = 202 if outcome is CreateOutcome.CREATED else 200
    return json_response(view, status, headers={"Location": f"/v1/tasks/{workflow_id}"})


async def cancel_inner(store: StateStore, workflow_id: str) -> None:
    """Cancel the stages a pipeline expanded to, once its own stage (the latest) was cancelled."""
    workflow = await store.get(workflow_id)
    weights = workflow.latest_stage.input_data.get("weights")
    if not workflow.latest.startswith(PREFIX) or not isinstance(weights, dict):
        return
    # the last stages first: a cancelled stage hands its waiters over, and they must find themselves cancelled
    # already, not fail on the missing output
    for name in reversed(list(weights)):
        stage = workflow.stages.get(name)
        if stage is not None and not is_terminal(stage.status):
            try:
                await store.request_cancel(workflow_id, name)
            except StageFinished:  # it ended meanwhile
                continue
