"""``GET /v1/monitor/workers``: the worker processes their sidecars report, and each queue's depth and oldest wait."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from actors.messages import decode_message
from actors.registry import QUEUES
from config import Settings, keys
from config.queueing import PRIORITIES
from gateway.auth import ADMIN, require_scope
from gateway.context import AppContext, context
from gateway.queue_state import drained_hosts, queue_states
from gateway.responses import json_response

routes = web.RouteTableDef()


async def workers_view(ctx: AppContext, settings: Settings) -> dict[str, Any]:
    """Live worker processes (last seen within the heartbeat timeout) and per-queue depth and oldest wait."""
    timeout_ms = int(settings.gpu_lock_monitor.heartbeat.timeout * 1000)
    seconds, micros = await ctx.redis.time()
    now = int(seconds) * 1000 + int(micros) // 1000
    queues = sorted(QUEUES)
    async with ctx.redis.pipeline(transaction=False) as pipe:
        pipe.zrangebyscore(keys.WORKERS, now - timeout_ms, "+inf", withscores=True)
        for queue in queues:
            pipe.lindex(keys.dramatiq_queue(queue), 0)
            for priority in PRIORITIES:  # each band's oldest message (enqueue ms)
                pipe.zrange(keys.lane_keys(queue, priority)[2], 0, 0, withscores=True)
        workers, *per_queue = await pipe.execute()
    step = 1 + len(PRIORITIES)
    async with ctx.redis.pipeline(transaction=False) as pipe:
        for queue, head in zip(queues, per_queue[::step], strict=True):
            pipe.hget(keys.dramatiq_messages(queue), head or b"")
        heads = await pipe.execute()
    states = {row["queue"]: row for row in await queue_states(ctx.redis, queues)}
    drained = await drained_hosts(ctx.redis)
    rows = []
    for index, (queue, raw) in enumerate(zip(queues, heads, strict=True)):
        lanes = [int(found[0][1]) for found in per_queue[index * step + 1 : (index + 1) * step] if found]
        oldest = min(([decode_message(raw).message_timestamp] if raw else []) + lanes, default=None)
        state = states[queue]
        rows.append(
            {
                "queue": queue,
                "depth": state["queued"],
                "oldest_wait_s": round((now - oldest) / 1000, 3) if oldest else None,
                "paused": state["paused"],
                "queued_by_priority": state["queued_by_priority"],
            }
        )
    alive = []
    for member, seen_ms in workers:
        host, _, pid = (member.decode() if isinstance(member, bytes) else member).rpartition(":")
        age_s = round((now - seen_ms) / 1000, 3)
        alive.append({"host": host, "pid": int(pid), "last_seen_age_s": age_s, "drained": host in drained})
    return {"heartbeat_timeout_s": settings.gpu_lock_monitor.heartbeat.timeout, "workers": alive, "queues": rows}


@routes.get("/v1/monitor/workers")
@require_scope(ADMIN)
async def workers(request: web.Request) -> web.Response:
    """Live worker processes and their last report; each queue's depth and how long its oldest message waited."""
    ctx = context(request)
    return json_response(await workers_view(ctx, await ctx.live.refresh(ctx.redis)))
