"""What the monitor did: a capped list of events and counters, in Redis for every gateway to show."""

from __future__ import annotations

from typing import Any

import msgspec
import redis.asyncio as aioredis
import structlog

from config import keys
from state import now_ms
from state.tracking import RunInfo

log = structlog.get_logger(__name__)

EVENTS_KEPT = 500


class MonitorEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One tier event or recovery."""

    kind: str
    at_ms: int
    detail: str
    task_id: str | None = None
    task_name: str | None = None
    host: str | None = None
    pid: int | None = None
    action: str | None = None
    device: int | None = None
    fencing_token: int | None = None


_encoder = msgspec.json.Encoder()


def event_for(kind: str, run: RunInfo | None, detail: str, **extra: Any) -> MonitorEvent:
    """Build an event about ``run`` (or about a lease, when ``run`` is None)."""
    if run is None:
        return MonitorEvent(kind=kind, at_ms=now_ms(), detail=detail, **extra)
    return MonitorEvent(
        kind=kind,
        at_ms=now_ms(),
        detail=detail,
        task_id=run.workflow_id,
        task_name=run.task_name,
        host=run.host,
        pid=run.pid,
        **extra,
    )


async def record_event(client: aioredis.Redis, *events: MonitorEvent) -> None:
    """Log each event, count it by kind and keep it in the recent list (one round trip)."""
    if not events:
        return
    async with client.pipeline(transaction=False) as pipe:
        for event in events:
            fields = msgspec.to_builtins(event)
            log.warning(f"monitor_{event.kind}", **{k: v for k, v in fields.items() if k not in ("kind", "at_ms")})
            pipe.hincrby(keys.MONITOR_STATS, f"tier_events_total:{event.kind}", 1)
            pipe.lpush(keys.MONITOR_EVENTS, _encoder.encode(event))
            live = {"type": "tier", **{k: str(v) for k, v in fields.items() if k != "at_ms"}}
            pipe.xadd(keys.EVENTS, live, maxlen=keys.EVENTS_KEPT, approximate=True)  # type: ignore[arg-type]
        pipe.ltrim(keys.MONITOR_EVENTS, 0, EVENTS_KEPT - 1)
        await pipe.execute()


async def recent(client: aioredis.Redis, limit: int) -> list[MonitorEvent]:
    """Return up to ``limit`` recent events, newest first."""
    raws = await client.lrange(keys.MONITOR_EVENTS, 0, limit - 1)
    return [msgspec.json.decode(raw, type=MonitorEvent) for raw in raws]
