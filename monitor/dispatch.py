"""Re-queue a stage through the Dramatiq broker (the gateway's, or one ``python -m monitor`` builds)."""

from __future__ import annotations

import asyncio

import dramatiq

from actors.pipeline.tasks import actor_of
from monitor.actions import Enqueue


def broker_enqueue(broker: dramatiq.Broker) -> Enqueue:
    """Return an ``Enqueue`` that sends a stage's message with a given message id."""

    async def enqueue(workflow_id: str, task_name: str, message_id: str) -> None:
        spec = actor_of(task_name)
        if spec is None:
            raise KeyError(task_name)
        message: dramatiq.Message[None] = dramatiq.Message(
            queue_name=spec.queue,
            actor_name=spec.name,
            args=({"workflow_id": workflow_id, "task_name": task_name},),
            kwargs={},
            options={},
            message_id=message_id,
        )
        await asyncio.to_thread(broker.enqueue, message)

    return enqueue
