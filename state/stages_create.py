"""Create several stages of one workflow in one atomic step (a pipeline and the stages it expands to)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from config import keys
from redis_io import as_mapping
from state.create_call import CREATE_STAGE, QueuedMessage
from state.errors import TaskConflict
from state.models import Workflow, input_hash
from state.records import parse_workflow
from state.store import CreateOutcome, StateStore


@dataclass(frozen=True)
class NewStage:
    """One stage to create: its task, input and the message that runs it."""

    task_name: str
    input_data: dict[str, Any]
    message: QueuedMessage


async def create_stages(
    store: StateStore,
    workflow_id: str,
    stages: list[NewStage],
    *,
    callback: str | None,
    input_params: dict[str, Any],
) -> tuple[CreateOutcome, Workflow]:
    """Create ``stages`` in order (the last is the workflow's latest), all or none, in one MULTI.

    Only the last stage's ending calls ``callback``. A workflow that already holds the last stage with the
    same input is found, not created again (an idempotent resubmit).

    Raises:
        TaskConflict: the workflow exists and is not this same submit.
    """
    key = keys.workflow_state(workflow_id)
    last = stages[-1]
    found = as_mapping(await store.channel.execute("HGETALL", key))
    if found:
        current = parse_workflow(found)
        same = current.stages.get(last.task_name) if current is not None else None
        if current is not None and same is not None and same.input_hash == input_hash(last.task_name, last.input_data):
            return CreateOutcome.EXISTS, current
        raise TaskConflict(
            f"task {workflow_id!r} already exists; a pipeline creates a workflow of its own: use a new task_id"
        )
    calls = [
        store.create_call(
            workflow_id,
            stage.task_name,
            stage.input_data,
            callback=callback,
            message=stage.message,
            callback_stage=last.task_name,
            input_params=input_params,
        )
        for stage in stages
    ]
    await store.channel.execute("SCRIPT", "LOAD", CREATE_STAGE.source)
    commands = [("MULTI",), *(CREATE_STAGE.command(k, a) for k, a, _ in calls), ("EXEC",)]
    replies = await store.channel.execute_many(*commands)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return CreateOutcome.CREATED, await store.get(workflow_id)
