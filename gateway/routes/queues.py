"""``/v1/queues``: queued counts by priority, pause and resume; ``/v1/workers/{host}/drain`` and undrain.

A paused queue accepts submits and starts nothing (``actors/worker/lua/fetch.lua`` takes nothing from it);
a drained host finishes what it runs and its consumers take nothing new. Each change is one MULTI: the mark,
a live event (``queue`` or ``worker``), and on resume or undrain a wake-up token per waiting consumer.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from actors.registry import QUEUES
from config import keys
from gateway.audit import audited
from gateway.auth import ADMIN, OPEN, PRINCIPAL, Principal, require_scope
from gateway.context import context
from gateway.errors import UnknownHost, UnknownQueue
from gateway.openapi import describe
from gateway.openapi_paths import json_doc, path_param, ref
from gateway.queue_state import drained_hosts, mark, queue_states
from gateway.responses import json_response
from redis_io import text
from state.models import now_ms

routes = web.RouteTableDef()
log = structlog.get_logger(__name__)

_QUEUE = path_param("queue", "A queue (GET /v1/queues lists them)", {"type": "string", "minLength": 1})
_HOST = path_param("host", "A worker host, as GET /v1/monitor/workers names it", {"type": "string", "minLength": 1})
_QUEUE_DOC = {"200": json_doc(ref("QueueState"), "The queue as it now is"), "404": None}
_HOST_DOC = {"200": json_doc(ref("HostState"), "The host as it now is"), "404": None}


def _queue(request: web.Request) -> str:
    queue = request.match_info["queue"]
    if queue not in QUEUES:
        raise UnknownQueue(f"no task uses queue {queue!r}; the queues are {', '.join(sorted(QUEUES))}")
    return queue


def _actor(request: web.Request) -> str:
    principal: Principal = request.get(PRINCIPAL, OPEN)
    return principal.name


@routes.get("/v1/queues")
@require_scope(ADMIN)
@describe(tags=["monitor"], responses={"200": json_doc(ref("QueueList"), "Every queue and the drained hosts")})
async def list_queues(request: web.Request) -> web.Response:
    """Each queue: paused or not, queued messages by priority and by client; the drained worker hosts."""
    ctx = context(request)
    rows = await queue_states(ctx.redis, sorted(QUEUES), clients=True)
    drained = await drained_hosts(ctx.redis)
    hosts = [{"host": host, "drained": True, "drained_since": since} for host, since in sorted(drained.items())]
    return json_response({"queues": rows, "drained_hosts": hosts})


async def _set_paused(request: web.Request, paused: bool) -> web.Response:
    ctx, queue = context(request), _queue(request)
    actor = _actor(request)
    action = "paused" if paused else "resumed"
    async with ctx.redis.pipeline(transaction=True) as pipe:
        if paused:
            pipe.hset(keys.PAUSED_QUEUES, queue, mark(now_ms(), actor))
        else:
            pipe.hdel(keys.PAUSED_QUEUES, queue)
            _wake(pipe, queue)
        _event(pipe, "type", "queue", "action", action, "queue", queue, "by", actor)
        await pipe.execute()
    log.info("queue_" + action, queue=queue, by=actor)
    (row,) = await queue_states(ctx.redis, [queue], clients=True)
    return json_response(row)


def _event(pipe: Any, *fields: str) -> None:
    """Add a live event (the stream's approximate cap, as every writer does)."""
    pipe.execute_command("XADD", keys.EVENTS, "MAXLEN", "~", keys.EVENTS_KEPT, "*", *fields)


def _wake(pipe: Any, queue: str) -> None:
    """Queue wake-up tokens so the consumers waiting on ``queue`` fetch now rather than at their next poll."""
    wake = keys.broker_wake(queue)
    pipe.lpush(wake, *([1] * keys.BROKER_WAKE_KEPT))
    pipe.ltrim(wake, 0, keys.BROKER_WAKE_KEPT - 1)


@routes.post("/v1/queues/{queue}/pause")
@require_scope(ADMIN)
@audited("queue.pause")
@describe(tags=["monitor"], parameters=[_QUEUE], responses=_QUEUE_DOC)
async def pause_queue(request: web.Request) -> web.Response:
    """Pause a queue: submits are still accepted, nothing new starts (running stages go on)."""
    return await _set_paused(request, True)


@routes.post("/v1/queues/{queue}/resume")
@require_scope(ADMIN)
@audited("queue.resume")
@describe(tags=["monitor"], parameters=[_QUEUE], responses=_QUEUE_DOC)
async def resume_queue(request: web.Request) -> web.Response:
    """Resume a paused queue: its workers take its messages again at once."""
    return await _set_paused(request, False)


async def _known_host(request: web.Request) -> str:
    ctx, host = context(request), request.match_info["host"]
    async with ctx.redis.pipeline(transaction=False) as pipe:
        pipe.zrange(keys.WORKERS, 0, -1)
        pipe.zrange(keys.SUPERVISORS, 0, -1)
        pipe.hexists(keys.DRAINED_HOSTS, host)
        workers, supervisors, drained = await pipe.execute()
    seen = {text(member).rpartition(":")[0] for member in (*workers, *supervisors)}
    if host not in seen and not drained:
        known = ", ".join(sorted(seen)) or "none yet"
        raise UnknownHost(f"no worker has run on host {host!r}; the hosts seen are: {known}")
    return host


async def _set_drained(request: web.Request, drained: bool) -> web.Response:
    ctx, host = context(request), await _known_host(request)
    actor = _actor(request)
    action = "drained" if drained else "undrained"
    async with ctx.redis.pipeline(transaction=True) as pipe:
        if drained:
            pipe.hset(keys.DRAINED_HOSTS, host, mark(now_ms(), actor))
        else:
            pipe.hdel(keys.DRAINED_HOSTS, host)
            for queue in sorted(QUEUES):
                _wake(pipe, queue)
        _event(pipe, "type", "worker", "action", action, "worker", host, "host", host, "by", actor)
        await pipe.execute()
    log.info("worker_host_" + action, host=host, by=actor)
    since = (await drained_hosts(ctx.redis)).get(host)
    return json_response({"host": host, "drained": drained, "drained_since": since})


@routes.post("/v1/workers/{host}/drain")
@require_scope(ADMIN)
@audited("worker.drain")
@describe(tags=["monitor"], parameters=[_HOST], responses=_HOST_DOC)
async def drain_host(request: web.Request) -> web.Response:
    """Drain a worker host: it finishes what it runs and takes nothing new (until undrained)."""
    return await _set_drained(request, True)


@routes.post("/v1/workers/{host}/undrain")
@require_scope(ADMIN)
@audited("worker.undrain")
@describe(tags=["monitor"], parameters=[_HOST], responses=_HOST_DOC)
async def undrain_host(request: web.Request) -> web.Response:
    """Undrain a worker host: its consumers take messages again."""
    return await _set_drained(request, False)
