"""``/v1/monitor/*``: GPU leases, heartbeats, timeouts, statistics, health and live settings (admin scope).

The monitor itself runs beside the routes (``gateway.background``) while ``gpu_lock_monitor.enabled``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from aiohttp import web

from actors.registry import check_task_names
from actors.validation import InvalidInput
from config import ConfigError, GpuLockMonitorSettings, GpuLockSettings, Settings
from config.queueing import QueueingSettings
from gateway.audit import audited
from gateway.auth import ADMIN, require_scope
from gateway.bodies import decode_json, read_body
from gateway.context import AppContext, context
from gateway.errors import LeaseNotFound
from gateway.monitor_views import health_report, heartbeats_view, lock_view, statistics_view, timeouts_view
from gateway.responses import json_response
from gpu_lock import aforce_release
from state.live import LiveSettings, apply_overrides, merge_overrides

routes = web.RouteTableDef()
_AT_PATH = re.compile(r"- at `\$((?:\.\w+|\[\d+\])*)`\Z")


class ReleaseRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of ``POST /v1/monitor/gpu-locks/{device}/release``."""

    fencing_token: Annotated[int, msgspec.Meta(ge=1, le=2**53)]  # a Redis counter, exact in Lua's doubles
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] = "released by an operator"


class LiveConfigPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of ``PUT /v1/monitor/config``: keys to change, deep-merged into the stored overrides.

    The merged settings must keep every bound and rule of the settings file (422 names the field otherwise):
    ``max_poll_interval >= poll_interval``, ``lease_ttl <= lock_timeout``, ``warning <= soft_timeout <=
    hard_timeout``, ``heartbeat.timeout >= 2 * heartbeat.interval``; ``task_timeout_levels`` keys are task names.
    """

    gpu_lock: GpuLockSettings | msgspec.UnsetType = msgspec.UNSET
    gpu_lock_monitor: GpuLockMonitorSettings | msgspec.UnsetType = msgspec.UNSET
    # submits read it within a second: default priorities, priorities on or off (workers read aging_s at start)
    queueing: QueueingSettings | msgspec.UnsetType = msgspec.UNSET


def _decode(body: bytes, kind: type[Any]) -> Any:
    try:
        return decode_json(body, kind)
    except msgspec.ValidationError as exc:
        raise InvalidInput(str(exc), "$") from None


async def _settings(request: web.Request) -> tuple[AppContext, Settings]:
    ctx = context(request)
    return ctx, await ctx.live.refresh(ctx.redis)


@routes.get("/v1/monitor/gpu-locks")
@require_scope(ADMIN)
async def gpu_locks(request: web.Request) -> web.Response:
    """Per device: holders (age, TTL left, fencing token), waiters, and recent force releases."""
    ctx, settings = await _settings(request)
    return json_response(await lock_view(ctx.redis, settings))


@routes.post(r"/v1/monitor/gpu-locks/{device:\d+}/release")
@require_scope(ADMIN)
@audited("lease.release")
async def release_lease(request: web.Request) -> web.Response:
    """Force-release the lease with the given fencing token; recorded in the lock's force-release log."""
    ctx, settings = await _settings(request)
    req: ReleaseRequest = _decode(await read_body(request), ReleaseRequest)
    device = int(request.match_info["device"])
    if not await aforce_release(ctx.redis, settings.gpu_lock, device, req.fencing_token, req.reason):
        raise LeaseNotFound(f"no lease on device {device} carries fencing token {req.fencing_token}")
    return json_response({"released": True, "device": device, "fencing_token": req.fencing_token, "reason": req.reason})


@routes.get("/v1/monitor/heartbeats")
@require_scope(ADMIN)
async def heartbeats(request: web.Request) -> web.Response:
    """Running stages with their last heartbeat and progress, split into alive and dead."""
    ctx, settings = await _settings(request)
    return json_response(await heartbeats_view(ctx.redis, settings))


@routes.get("/v1/monitor/timeouts")
@require_scope(ADMIN)
async def timeouts(request: web.Request) -> web.Response:
    """Tier settings (defaults and per task_name) and recent tier events."""
    ctx, settings = await _settings(request)
    return json_response(await timeouts_view(ctx.redis, settings))


@routes.get("/v1/monitor/statistics")
@require_scope(ADMIN)
async def statistics(request: web.Request) -> web.Response:
    """Lock success rate, timeouts, wait and hold times (with history), task outcomes, monitor counters."""
    ctx, settings = await _settings(request)
    return json_response(await statistics_view(ctx.redis, settings))


@routes.get("/v1/monitor/health")
@require_scope(ADMIN)
async def health(request: web.Request) -> web.Response:
    """Overall status with the issues found: 200 when ok or degraded, 503 when critical."""
    ctx, settings = await _settings(request)
    report = await health_report(ctx.redis, settings)
    return json_response(report, 503 if report["status"] == "critical" else 200)


@routes.get("/v1/monitor/config")
@require_scope(ADMIN)
async def get_config(request: web.Request) -> web.Response:
    """The live ``gpu_lock`` and ``gpu_lock_monitor`` sections, the stored overrides and their version."""
    _ctx, settings = await _settings(request)
    return json_response(_config_view(context(request).live, settings))


@routes.put("/v1/monitor/config")
@require_scope(ADMIN)
@audited("config.update")
async def put_config(request: web.Request) -> web.Response:
    """Change ``gpu_lock``/``gpu_lock_monitor``/``queueing`` keys; every process picks the change up, no restart."""
    ctx = context(request)
    patch = _decode(await read_body(request), dict[str, Any])
    live = context(request).live
    try:
        check_task_names(apply_overrides(live.base, merge_overrides(live.overrides, patch)))
        settings = await live.update(ctx.redis, patch)
    except ConfigError as exc:
        raise InvalidInput(str(exc), _pointer(str(exc))) from None
    return json_response(_config_view(live, settings))


def _pointer(message: str) -> str:
    """Return the JSON path a settings error names: ``section: ... - at `$.key` `` -> ``$.section.key``."""
    section = message.split(":", 1)[0]
    found = _AT_PATH.search(message)
    return f"$.{section}" + (found.group(1) if found else "")


def _config_view(live: LiveSettings, settings: Settings) -> dict[str, Any]:
    return {
        "version": live.version,
        "gpu_lock": msgspec.to_builtins(settings.gpu_lock),
        "gpu_lock_monitor": msgspec.to_builtins(settings.gpu_lock_monitor),
        "queueing": msgspec.to_builtins(settings.queueing),
        "overrides": live.overrides,
    }
