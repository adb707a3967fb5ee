"""Limits per API key: what a submit is checked against, the 429 hint, and ``/v1/keys`` to read and change them."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from actors.registry import REGISTRY
from actors.validation import InvalidInput, closest
from config import Settings, keys
from config.limits import KeyLimits
from gateway.audit import audited
from gateway.auth import ADMIN, require_scope
from gateway.bodies import decode_json, read_body
from gateway.context import context
from gateway.errors import UnknownKey
from gateway.request_errors import request_error
from gateway.responses import json_response
from state.limits import key_counts

routes = web.RouteTableDef()

_encoder = msgspec.json.Encoder()


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


__all__ = ["routes"]
