"""Build the aiohttp application."""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from actors.messages import MessageSender
from actors.registry import check_task_names
from config import Settings
from gateway import auth, background, console, pipeline_folder, scheduling
from gateway.audit import audit_middleware
from gateway.context import CTX, SETTINGS, AppContext
from gateway.metrics import GatewayMetrics
from gateway.problems import problem_middleware
from gateway.routes import (
    audit,
    batches,
    bulk,
    docs,
    events,
    files,
    glossaries,
    health,
    keys,
    monitor,
    pipelines,
    processes,
    queues,
    tasks,
    voice_maps,
    voices,
    webhooks,
)
from gateway.routes.health import metrics_middleware
from redis_io.clients import GATEWAY, aclose_client, async_client
from state import StateStore
from state.live import LiveSettings

log = structlog.get_logger(__name__)


def create_app(settings: Settings) -> web.Application:
    """Return the gateway application for these settings (Redis must be configured).

    Raises:
        ValueError: Redis is not configured.
        ConfigError: per-task settings name a task that does not exist.
    """
    if not settings.redis_configured:
        raise ValueError("settings.redis_url or settings.redis_sentinels is required")
    check_task_names(settings)
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[audit_middleware, problem_middleware])
    app[SETTINGS] = settings
    app.add_routes(bulk.routes)
    app.add_routes(tasks.routes)
    app.add_routes(batches.routes)
    app.add_routes(health.routes)
    app.add_routes(files.routes)
    app.add_routes(webhooks.routes)
    app.add_routes(docs.routes)
    app.add_routes(monitor.routes)
    app.add_routes(voices.routes)
    app.add_routes(glossaries.routes)
    app.add_routes(voice_maps.routes)
    app.add_routes(pipelines.routes)
    app.on_startup.append(pipeline_folder.load_folder)
    app.on_startup.append(voices.warm_catalogue)
    app.add_routes(events.routes)
    app.add_routes(processes.routes)
    app.add_routes(queues.routes)
    app.add_routes(audit.routes)
    app.add_routes(keys.routes)
    app.add_routes(console.routes)
    auth.install(app, settings)
    app.middlewares.append(metrics_middleware)
    app.cleanup_ctx.append(_resources)
    app.cleanup_ctx.append(events.events_ctx)
    app.cleanup_ctx.append(background.outbox_dispatcher)
    app.cleanup_ctx.append(scheduling.scheduler_ctx)
    # The monitor runs in the gateway unless gpu_lock_monitor.enabled is false (then: python -m monitor).
    app.cleanup_ctx.append(background.in_process_monitor)
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings: Settings = app[SETTINGS]
    client = async_client(settings, GATEWAY)
    app[CTX] = AppContext(
        settings=settings,
        redis=client,
        store=StateStore(client, settings.state_ttl_s),
        sender=MessageSender(client, settings.state_ttl_s * 1000),
        metrics=GatewayMetrics(),
        live=LiveSettings(settings),
    )
    log.info("gateway_started", host=settings.host, port=settings.port)
    yield
    await aclose_client(client)
