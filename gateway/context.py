"""What every handler shares: settings, the Redis client, the store, the broker and metrics."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from dramatiq import Broker

from config import Settings
from gateway.metrics import GatewayMetrics
from state import StateStore


@dataclass
class AppContext:
    """Per-application resources, created at start-up."""

    settings: Settings
    redis: aioredis.Redis
    store: StateStore
    broker: Broker
    metrics: GatewayMetrics
