"""Batches of a pipeline: every item expands into its stages, checked whole before any is created."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis

from actors.messages import stage_message
from actors.pipeline.expand import Expansion
from actors.pipeline.tasks import RUN_TASK, spec_of
from actors.registry import REGISTRY, TaskSpec
from actors.validation import InvalidInput
from config import Settings, keys
from gateway.pipeline_submit import check_pipeline_files, checked_expansion, find_definition
from state import StateStore, TaskConflict
from state.batches import BatchConflict
from state.stages_create import NewStage, create_stages

_CHECK_CHUNK = 50  # items expanded between two turns of the event loop


async def pipeline_spec(redis: aioredis.Redis, task_name: str) -> TaskSpec:
    """Return the spec of the pipeline a batch runs.

    Raises:
        InvalidInput: ``pipeline.run`` (each item could name another pipeline: a batch names one).
        UnknownTask: no such pipeline.
    """
    if task_name == RUN_TASK:
        raise InvalidInput(
            f"a batch runs one pipeline: name it as task_name (pipeline.NAME), not {RUN_TASK}", "$.task_name"
        )
    return spec_of(await find_definition(redis, task_name))


async def check_items(
    redis: aioredis.Redis, spec: TaskSpec, items: list[dict[str, Any]], settings: Settings
) -> list[Expansion]:
    """Expand every item and check each stage's input as a submit would; the first failure refuses the batch.

    Raises:
        InvalidInput: an item or one of its stages does not fit (the message names the item).
    """
    definition = await find_definition(redis, spec.name)
    expansions: list[Expansion] = []
    for index, item in enumerate(items):
        try:
            expansions.append(checked_expansion(definition, spec, item, settings))
        except InvalidInput as exc:
            raise _at_item(exc, index) from None
        if index % _CHECK_CHUNK == _CHECK_CHUNK - 1:
            await asyncio.sleep(0)

    def files() -> None:
        for index, (item, expansion) in enumerate(zip(items, expansions, strict=True)):
            try:
                check_pipeline_files(spec, item, expansion.stages, settings)
            except InvalidInput as exc:
                raise _at_item(exc, index) from None

    await asyncio.to_thread(files)
    return expansions


def _at_item(exc: InvalidInput, index: int) -> InvalidInput:
    where = f"$.items[{index}]"
    return InvalidInput(
        f"item {index}: " + str(exc).replace("$.input_data", where), exc.pointer.replace("$.input_data", where, 1)
    )


async def create_items(store: StateStore, batch_id: str, task_name: str, expansions: list[Expansion]) -> None:
    """Create every item's workflow (its stages and their messages, all or none per item), in order.

    An item that exists as the same submit is kept (a retried batch completes what an interrupted one began).

    Raises:
        BatchConflict: an item's task id holds another workflow.
    """
    actor = task_name if task_name in REGISTRY else RUN_TASK
    for index, expansion in enumerate(expansions):
        wid = keys.batch_item_id(batch_id, index)
        new = [NewStage(t, d, stage_message(REGISTRY[t].queue, t, wid)) for t, d in expansion.stages]
        new.append(NewStage(task_name, expansion.gather, stage_message("system", task_name, wid, actor=actor)))
        try:
            await create_stages(store, wid, new, callback=None, input_params=expansion.gather["input"])
        except TaskConflict:
            raise BatchConflict(f"item {index}: task {wid!r} already exists as another workflow") from None
        await asyncio.sleep(0)  # let the loop answer other clients between items
