"""What a submit counts against (its API key's limits) and how long a refused one should wait."""

from __future__ import annotations

import math

import msgspec
from aiohttp import web

from config import Settings, keys
from gateway.auth import OPEN, PRINCIPAL
from gateway.context import context
from state.errors import LimitExceeded
from state.limits import SubmitKey
from state.task_metrics import BUCKETS_S

_encoder = msgspec.json.Encoder()

# Retry-After for max_running / max_queued when the task has no run time yet: a short, honest guess.
DEFAULT_RETRY_AFTER_S = 5
MAX_RETRY_AFTER_S = 60


def submit_key(request: web.Request, settings: Settings) -> SubmitKey | None:
    """Return the key a submit counts against, with its limits from the settings file (None when keys are off)."""
    principal = request.get(PRINCIPAL, OPEN)
    if principal is OPEN:
        return None
    limits = next((k.limits for k in settings.auth.api_keys if k.name == principal.name), None)
    return SubmitKey(principal.name, _encoder.encode(limits) if limits is not None else b"")


async def retry_after_s(request: web.Request, exc: LimitExceeded, task_name: str) -> int:
    """Return the seconds a refused submit should wait: when the minute's window frees, else a mean run time."""
    if exc.retry_after_ms is not None:
        return max(1, math.ceil(exc.retry_after_ms / 1000))
    fields = [f"run_seconds_sum:{task_name}"] + [
        f"run_seconds_bucket:{task_name}:{le}" for le in (*(f"{b:g}" for b in BUCKETS_S), "+Inf")
    ]
    found = await context(request).redis.hmget(keys.TASK_METRICS, fields)
    count = sum(int(v) for v in found[1:] if v is not None)
    if not count or found[0] is None:
        return DEFAULT_RETRY_AFTER_S
    return max(1, min(MAX_RETRY_AFTER_S, math.ceil(float(found[0]) / count)))
