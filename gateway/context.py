"""What every handler shares: settings (and their live view), the Redis client, the store, the sender, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis.asyncio as aioredis
from aiohttp import web

from actors.messages import MessageSender
from config import Settings
from gateway.metrics import GatewayMetrics
from gateway.queue_coverage import WorkerDirectory
from state import StateStore
from state.live import LiveSettings


@dataclass
class AppContext:
    """Per-application resources, created at start-up."""

    settings: Settings
    redis: aioredis.Redis
    store: StateStore
    sender: MessageSender
    metrics: GatewayMetrics
    # the one LiveSettings of this process: the routes, the submits and the in-process monitor read it
    live: LiveSettings
    workers: WorkerDirectory = field(default_factory=WorkerDirectory)


CTX = web.AppKey("ctx", AppContext)
SETTINGS = web.AppKey("settings", Settings)


def context(request: web.Request) -> AppContext:
    """Return the application's shared resources."""
    return request.app[CTX]
