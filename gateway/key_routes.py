"""Limits per API key: what a submit is checked against, the 429 hint, and ``/v1/keys`` to read and change them."""

from __future__ import annotations

import math
from typing import Any

import msgspec
from aiohttp import web

from actors.registry import REGISTRY
from actors.validation import InvalidInput, closest
from config import Settings, keys
from config.limits import KeyLimits
from gateway.audit import audited
from gateway.auth import ADMIN, OPEN, PRINCIPAL, require_scope
from gateway.bodies import decode_json, read_body
from gateway.context import context
from gateway.errors import UnknownKey
from gateway.request_errors import request_error
from gateway.responses import json_response
from state.errors import LimitExceeded
from state.limits import SubmitKey, key_counts
from state.task_metrics import BUCKETS_S

routes = web.RouteTableDef()

# Retry-After for max_running / max_queued when the task has no run time yet: a short, honest guess.
DEFAULT_RETRY_AFTER_S = 5
MAX_RETRY_AFTER_S = 60
_encoder = msgspec.json.Encoder()


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


def _known(settings: Settings, name: str) -> None:
    if name not in {k.name for k in settings.auth.api_keys}:
        raise UnknownKey(f"no API key named {name!r} is configured (auth.api_keys)")


async def _view(request: web.Request, name: str, scopes: list[str], file_limits: KeyLimits | None) -> dict[str, Any]:
    ctx = context(request)
    stored = await ctx.redis.hget(keys.KEY_LIMITS, name)
    limits = msgspec.json.decode(stored) if stored else msgspec.to_builtins(file_limits) if file_limits else None
    return {
        "name": name,
        "scopes": scopes,
        "limits": limits,
        "limits_source": "runtime" if stored else "settings" if file_limits else None,
        "counts": await key_counts(ctx.redis, name, list(REGISTRY)),
    }


@routes.get("/v1/keys")
@require_scope(ADMIN)
async def list_keys(request: web.Request) -> web.Response:
    """The configured API keys (names, never secrets) with their limits and their queued and running counts."""
    settings = context(request).settings
    views = [await _view(request, k.name, list(k.scopes), k.limits) for k in settings.auth.api_keys]
    return json_response({"keys": views})


@routes.put("/v1/keys/{name}/limits")
@require_scope(ADMIN)
@audited("key.limits.update")
async def put_limits(request: web.Request) -> web.Response:
    """Replace a key's limits at run time (every gateway applies them to the next submit)."""
    ctx = context(request)
    name = request.match_info["name"]
    _known(ctx.settings, name)
    body = await read_body(request)
    try:
        limits = decode_json(body, KeyLimits)
    except msgspec.ValidationError as exc:
        raise request_error(exc, body) from None
    for task_name in limits.per_task:
        if task_name not in REGISTRY:
            near = closest(task_name, list(REGISTRY))
            hint = f" (did you mean {near!r}?)" if near else "; GET /v1/task-types lists them"
            raise InvalidInput(f"per_task names an unknown task_name {task_name!r}{hint}", f"$.per_task.{task_name}")
    await ctx.redis.hset(keys.KEY_LIMITS, name, _encoder.encode(limits))
    key = next(k for k in ctx.settings.auth.api_keys if k.name == name)
    return json_response(await _view(request, name, list(key.scopes), key.limits))


@routes.delete("/v1/keys/{name}/limits")
@require_scope(ADMIN)
@audited("key.limits.reset")
async def reset_limits(request: web.Request) -> web.Response:
    """Drop a key's run-time limits: the settings file's apply again."""
    ctx = context(request)
    name = request.match_info["name"]
    _known(ctx.settings, name)
    await ctx.redis.hdel(keys.KEY_LIMITS, name)
    key = next(k for k in ctx.settings.auth.api_keys if k.name == name)
    return json_response(await _view(request, name, list(key.scopes), key.limits))


__all__ = ["retry_after_s", "routes", "submit_key"]
