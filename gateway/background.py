"""What the gateway runs beside its routes for the life of the application (after its context exists).

The webhook outbox dispatcher, and the monitor while ``gpu_lock_monitor.enabled`` (else ``python -m monitor``
runs it); later starts have their own scheduler (``gateway.scheduling``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from actors.webhooks.outbox import OutboxDispatcher
from gateway.context import CTX
from monitor import Monitor, stage_enqueue


async def _stop(job: asyncio.Task[None] | None) -> None:
    if job is not None:
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await job


async def outbox_dispatcher(app: web.Application) -> AsyncIterator[None]:
    """Run the webhook outbox dispatcher for the life of the application."""
    ctx = app[CTX]
    dispatcher = OutboxDispatcher(ctx.redis, ctx.sender, ctx.settings.webhooks)
    job = asyncio.create_task(dispatcher.run_forever(), name="webhook-outbox")
    yield
    await _stop(job)


async def in_process_monitor(app: web.Application) -> AsyncIterator[None]:
    """Run the monitor in this process while ``gpu_lock_monitor.enabled`` (one leader acts at a time)."""
    ctx = app[CTX]
    job = None
    if ctx.settings.gpu_lock_monitor.enabled:
        job = asyncio.create_task(Monitor(ctx.redis, ctx.live, stage_enqueue(ctx.sender)).run(), name="monitor")
    yield
    await _stop(job)
