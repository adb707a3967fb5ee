"""Later start on submit: ``run_at`` / ``delay_s`` to a start time, and the scheduler that releases stages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

from aiohttp import web

from actors.validation import InvalidInput
from gateway.context import CTX
from state import TaskRequest, now_ms
from state.models import iso_ms
from state.schedule import Scheduler

# A run_at this far in the past is taken as "now" (clocks differ a little); further back it is refused.
PAST_TOLERANCE_MS = 5000
_FORMS = "ISO 8601 with a zone (2026-12-05T10:00:00Z) or epoch milliseconds"


def _parse(value: str | int) -> int:
    if isinstance(value, int):
        return value
    if value.strip().isdigit():
        return int(value.strip())
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"run_at {value!r} is not a time: use {_FORMS}", "$.run_at") from None
    if when.tzinfo is None:
        raise InvalidInput(f"run_at {value!r} has no time zone: add Z or an offset such as +01:00", "$.run_at")
    return round(when.timestamp() * 1000)


def start_time_ms(req: TaskRequest, ttl_s: int) -> int | None:
    """Return when the submitted stage may start (ms), or None to queue it now.

    Raises:
        InvalidInput: both fields are given, the time is unreadable, in the past (beyond a few seconds) or
            later than the record lives (``state_ttl_s``).
    """
    if req.run_at is not None and req.delay_s is not None:
        raise InvalidInput("give run_at or delay_s, not both", "$.delay_s")
    now = now_ms()
    if req.delay_s is not None:
        at, pointer = now + round(req.delay_s * 1000), "$.delay_s"
    elif req.run_at is not None:
        at, pointer = _parse(req.run_at), "$.run_at"
    else:
        return None
    if at < now - PAST_TOLERANCE_MS:
        raise InvalidInput(
            f"run_at {iso_ms(max(at, 0))} is in the past: it must be at most {PAST_TOLERANCE_MS // 1000} s "
            f"before now ({iso_ms(now)})",
            pointer,
        )
    latest = now + ttl_s * 1000
    if at > latest:
        raise InvalidInput(
            f"{pointer[2:]} starts the stage after its record expires: at most state_ttl_s = {ttl_s} s from now "
            f"({iso_ms(latest)})",
            pointer,
        )
    return at if at > now else None


async def scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    """Release SCHEDULED stages when their time comes, while the gateway runs (every gateway may)."""
    ctx = app[CTX]
    stop = asyncio.Event()
    task = asyncio.create_task(Scheduler(ctx.redis, ctx.store).run(stop), name="scheduler")
    yield
    stop.set()
    with contextlib.suppress(asyncio.CancelledError):
        await task
