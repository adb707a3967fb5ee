"""Re-queue a stage: its new message goes out through the process's ``MessageSender`` (no broker needed)."""

from __future__ import annotations

from actors.messages import MessageSender, requeued_stage_message
from actors.pipeline.tasks import actor_of
from monitor.actions import Enqueue


def stage_enqueue(sender: MessageSender) -> Enqueue:
    """Return an ``Enqueue`` that sends a stage's message with a given message id.

    Raises (from the returned coroutine):
        KeyError: no registered actor runs that stage.
    """

    async def enqueue(workflow_id: str, task_name: str, message_id: str) -> None:
        spec = actor_of(task_name)
        if spec is None:
            raise KeyError(task_name)
        await sender.send(requeued_stage_message(spec.queue, spec.name, workflow_id, task_name, message_id))

    return enqueue
