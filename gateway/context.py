"""What every handler shares: settings, the Redis client, the store, the broker and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis.asyncio as aioredis
from dramatiq import Broker

from config import Settings
from gateway.metrics import GatewayMetrics
from gateway.workers import WorkerDirectory
from state import StateStore


@dataclass
class AppContext:
    """Per-application resources, created at start-up."""

    settings: Settings
    redis: aioredis.Redis
    store: StateStore
    broker: Broker
    metrics: GatewayMetrics
    workers: WorkerDirectory = field(default_factory=WorkerDirectory)
