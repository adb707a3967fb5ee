"""What each queue holds and whether it is paused; which worker hosts are drained (read in one round trip)."""

from __future__ import annotations

from typing import Any

import msgspec
import redis.asyncio as aioredis

from config import keys
from config.queueing import PRIORITIES
from redis_io import text
from state.models import iso_ms

# the queue's own list: messages put back, retried, re-sent or handed over (taken before the lanes)
PUT_BACK = "put_back"


class Mark(msgspec.Struct, kw_only=True):
    """When and by whom a queue was paused or a host drained."""

    at_ms: int
    by: str


def mark(at_ms: int, by: str) -> bytes:
    """Return the stored JSON of a pause or drain."""
    return msgspec.json.encode(Mark(at_ms=at_ms, by=by))


def _mark_view(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    found = msgspec.json.decode(raw, type=Mark)
    return {"at": iso_ms(found.at_ms), "by": found.by}


async def queue_states(client: aioredis.Redis, queues: list[str], *, clients: bool = False) -> list[dict[str, Any]]:
    """Return each queue's paused mark, its queued count by priority, and (``clients``) by client per priority."""
    async with client.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.PAUSED_QUEUES)
        for queue in queues:
            pipe.llen(keys.dramatiq_queue(queue))
            for priority in PRIORITIES:
                rotation, _turns, ages = keys.lane_keys(queue, priority)
                pipe.zcard(ages)
                pipe.lrange(rotation, 0, -1)
        paused_raw, *rest = await pipe.execute()
    paused = {text(k): v for k, v in paused_raw.items()}
    step = 1 + 2 * len(PRIORITIES)
    rows: list[dict[str, Any]] = []
    lanes: list[tuple[str, str, str]] = []
    for index, queue in enumerate(queues):
        part = rest[index * step : (index + 1) * step]
        by_priority = {PUT_BACK: int(part[0])}
        by_priority |= {p: int(part[1 + 2 * i]) for i, p in enumerate(PRIORITIES)}
        rows.append(
            {
                "queue": queue,
                "paused": queue in paused,
                "paused_since": _mark_view(paused.get(queue)),
                "queued": sum(by_priority.values()),
                "queued_by_priority": by_priority,
            }
        )
        lanes += [(queue, p, text(c)) for i, p in enumerate(PRIORITIES) for c in part[2 + 2 * i]]
    if clients:
        await _add_clients(client, rows, lanes)
    return rows


async def _add_clients(client: aioredis.Redis, rows: list[dict[str, Any]], lanes: list[tuple[str, str, str]]) -> None:
    """Add ``queued_by_client`` (priority -> client -> count) to each row: one LLEN per client with work."""
    async with client.pipeline(transaction=False) as pipe:
        for queue, priority, name in lanes:
            pipe.llen(keys.lane(queue, priority, name))
        counts = await pipe.execute()
    by_queue: dict[str, dict[str, dict[str, int]]] = {row["queue"]: {} for row in rows}
    for (queue, priority, name), count in zip(lanes, counts, strict=True):
        by_queue[queue].setdefault(priority, {})[name] = int(count)
    for row in rows:
        row["queued_by_client"] = by_queue[row["queue"]]


async def drained_hosts(client: aioredis.Redis) -> dict[str, dict[str, Any] | None]:
    """Return the drained hosts and when and by whom each was drained."""
    return {text(k): _mark_view(v) for k, v in (await client.hgetall(keys.DRAINED_HOSTS)).items()}
