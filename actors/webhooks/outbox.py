"""Move stage ends from the webhook outbox to the ``webhooks`` queue (at least once, claims time out)."""

from __future__ import annotations

import asyncio
from typing import Any

import dramatiq
import msgspec
import redis.asyncio as aioredis
import structlog

from actors.messages import MessageSender
from actors.webhooks.events import Delivery
from config import keys
from config.settings import WebhookSettings
from redis_io import AsyncChannel, LuaScript, text

WEBHOOK_ACTOR = "taskgate.webhook"
WEBHOOK_QUEUE = "webhooks"
_CLAIM_BATCH = 100
_CLAIM = LuaScript.load("actors.webhooks", "claim_outbox")

log = structlog.get_logger(__name__)


def delivery_message(delivery: Delivery) -> dramatiq.Message[Any]:
    """Return the webhook actor's message for ``delivery``."""
    return dramatiq.Message(
        queue_name=WEBHOOK_QUEUE,
        actor_name=WEBHOOK_ACTOR,
        args=(msgspec.to_builtins(delivery),),
        kwargs={},
        options={},
    )


def parse_entry(entry: bytes | str) -> Delivery:
    """Turn an outbox entry into its first delivery try.

    A stage end is workflow_id, task_name and status on three lines; a batch's completion is
    ``@batch`` and the batch id on two (written by ``state/lua/batch_item.lua``).
    """
    entry_text = text(entry)
    if entry_text.startswith(keys.BATCH_OUTBOX_PREFIX):
        batch_id = entry_text.removeprefix(keys.BATCH_OUTBOX_PREFIX)
        return Delivery(workflow_id=batch_id, task_name="", status="COMPLETED", kind="batch")
    workflow_id, task_name, status = entry_text.split("\n", 2)
    return Delivery(workflow_id=workflow_id, task_name=task_name, status=status)


class OutboxDispatcher:
    """Claim due outbox entries, enqueue one delivery each, then drop them from the outbox."""

    def __init__(self, client: aioredis.Redis, sender: MessageSender, settings: WebhookSettings) -> None:
        self.client = client
        self.sender = sender
        self.claim_ms = int(settings.claim_timeout_s * 1000)
        self.interval_s = settings.dispatch_interval_s
        self._channel = AsyncChannel(client)

    async def dispatch_due(self) -> int:
        """Enqueue every due entry; return how many were enqueued."""
        entries = await _CLAIM.run(self._channel, [keys.WEBHOOK_OUTBOX], [self.claim_ms, _CLAIM_BATCH])
        for entry in entries:
            delivery = parse_entry(entry)
            await self.sender.send(delivery_message(delivery))
            await self.client.zrem(keys.WEBHOOK_OUTBOX, entry)
            log.info(
                "webhook_dispatched", task_id=delivery.workflow_id, task_name=delivery.task_name, status=delivery.status
            )
        return len(entries)

    async def run_forever(self) -> None:
        """Dispatch every ``dispatch_interval_s`` (at once again after a full batch) until cancelled."""
        while True:
            try:
                count = await self.dispatch_due()
            except (OSError, aioredis.RedisError) as exc:
                log.warning("webhook_dispatch_failed", error=str(exc))
                count = 0
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                # a cancel that landed inside a Redis call can come out of it as another error (or none): stop as
                # asked, else the loop runs on and the gateway's shutdown waits for it forever
                raise asyncio.CancelledError
            if count < _CLAIM_BATCH:
                await asyncio.sleep(self.interval_s)
