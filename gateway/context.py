"""What every handler shares: settings, the Redis client, the store, the broker and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from aiohttp import web
from dramatiq import Broker

from config import Settings
from gateway.workers import WorkerDirectory
from state import StateStore

if TYPE_CHECKING:  # gateway.metrics reads the context in its middleware
    from gateway.metrics import GatewayMetrics


@dataclass
class AppContext:
    """Per-application resources, created at start-up."""

    settings: Settings
    redis: aioredis.Redis
    store: StateStore
    broker: Broker
    metrics: GatewayMetrics
    workers: WorkerDirectory = field(default_factory=WorkerDirectory)


CTX = web.AppKey("ctx", AppContext)
SETTINGS = web.AppKey("settings", Settings)


def context(request: web.Request) -> AppContext:
    """Return the application's shared resources."""
    return request.app[CTX]
