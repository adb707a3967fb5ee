"""Live events: one reader of the ``taskgate:events`` stream per gateway process, fanned out to its clients.

Every change that the platform reports (stage moves, progress, lease grants and releases, tier events,
workers up and down) is added to one capped Redis Stream by the same atomic step that makes the change, so
every gateway sees every worker. A gateway reads the stream with ``XREAD BLOCK`` on a connection of its
own, only while it has clients, decodes each entry once (``Event.wire`` is the Server-Sent Events frame all
clients share) and offers it to each client's bounded queue. A client whose queue is full is dropped
(its stream ends with an ``overflow`` event; it resumes with ``Last-Event-ID``), so a slow or vanished
client never grows memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from config import keys

log = structlog.get_logger(__name__)

# XREAD waits this long for new entries before it asks again (and notices that its clients left).
BLOCK_MS = 5000
READ_COUNT = 500
# After a Redis error the reader waits this long before it reads again.
RETRY_S = 0.5
_INTS = (
    "rev",
    "device",
    "fencing_token",
    "pid",
    "waited_ms",
    "since_ms",
    "expired_at_ms",
    "amount",
    "value",
    "current",
)
_NESTED = ("owner", "holder")
_KEEP_NESTED = ("task_id", "task_name", "host", "pid", "fencing_token", "since_ms", "waited_ms", "memory_mb")
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Event:
    """One decoded stream entry and its Server-Sent Events frame."""

    id: str
    type: str
    data: dict[str, Any]
    wire: bytes


CLOSED = Event("0-0", "closed", {}, b"")


def stream_id(value: str) -> tuple[int, int]:
    """Return a stream id ``ms-seq`` as a comparable pair (raises ValueError when malformed)."""
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


def frame(event_type: str, data: Any, event_id: str | None = None) -> bytes:
    """Return one Server-Sent Events frame (``data`` as one line of JSON)."""
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event_type}\ndata: ".encode() + _encoder.encode(data) + b"\n\n"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def decode(entry_id: bytes | str, raw: dict[Any, Any]) -> Event:
    """Build an event from a stream entry: numbers typed, owner/holder JSON flattened, ``task_id`` named."""
    eid = _text(entry_id)
    data: dict[str, Any] = {_text(k): _text(v) for k, v in raw.items()}
    for name in _NESTED:
        if name in data:
            with contextlib.suppress(msgspec.DecodeError):
                nested = msgspec.json.decode(data.pop(name))
                data.update({k: nested[k] for k in _KEEP_NESTED if k in nested})
    if "workflow_id" in data:
        data["task_id"] = data.pop("workflow_id")
    for name in _INTS:
        if isinstance(data.get(name), str):
            with contextlib.suppress(ValueError):
                data[name] = int(data[name])
    if "progress" in data:
        data["progress"] = float(data["progress"])
    data["at_ms"] = stream_id(eid)[0]
    event_type = data.get("type", "unknown")
    return Event(eid, event_type, data, frame(event_type, data, eid))


@dataclass(eq=False)
class Subscriber:
    """One connected client: what it accepts and its bounded queue."""

    accepts: Callable[[Event], bool]
    queue: asyncio.Queue[Event]
    overflowed: bool = field(default=False)
    closed: bool = field(default=False)

    def close(self) -> None:
        """End this subscriber's stream (the gateway is stopping): wake its handler with ``CLOSED``."""
        self.closed = True
        with contextlib.suppress(asyncio.QueueFull):  # a full queue wakes the handler anyway
            self.queue.put_nowait(CLOSED)


class EventHub:
    """Read the stream while anyone listens; offer each event to every subscriber that accepts it."""

    def __init__(
        self, redis_url: str, client: aioredis.Redis, queue_size: int, on_drop: Callable[[], None] = lambda: None
    ) -> None:
        self.redis_url = redis_url
        self.on_drop = on_drop
        self.client = client  # the gateway's shared client, for the one read of the stream's tail
        self.queue_size = queue_size
        self.subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        # one start at a time: the subscribers that arrive before the reader exists share one read of the tail
        self._starting = asyncio.Lock()
        self._last_id = "0-0"
        self._reader = client
        self.dropped_total = 0

    async def subscribe(self, accepts: Callable[[Event], bool]) -> Subscriber:
        """Add a subscriber; every event added to the stream after this returns reaches it (if accepted)."""
        if self._task is None:
            async with self._starting:
                if self._task is None:  # else a subscribe that held the lock started the reader meanwhile
                    tail: Any = await self.client.xrevrange(keys.EVENTS, count=1)
                    self._last_id = _text(tail[0][0]) if tail else "0-0"
                    self._task = asyncio.create_task(self._read(), name="taskgate-events-reader")
        sub = Subscriber(accepts, asyncio.Queue(self.queue_size))
        self.subscribers.add(sub)  # no await since the check: the reader cannot have stopped unseen
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Remove a subscriber (the reader stops after its current wait once nobody is left)."""
        self.subscribers.discard(sub)

    def publish(self, event: Event) -> None:
        """Offer ``event`` to every subscriber; drop those whose queue is full."""
        for sub in tuple(self.subscribers):
            if not sub.accepts(event):
                continue
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                sub.overflowed = True
                self.subscribers.discard(sub)
                self.dropped_total += 1
                self.on_drop()
                log.warning("events_client_dropped", queue_size=self.queue_size, last_event_id=event.id)

    async def _read(self) -> None:
        self._reader = reader = aioredis.Redis.from_url(
            self.redis_url, single_connection_client=True, socket_timeout=BLOCK_MS / 1000 + 5
        )
        try:
            while True:
                if not self.subscribers:
                    self._task = None  # checked and cleared with no await between: subscribe sees it
                    return
                await self._read_once(reader)
        finally:
            with contextlib.suppress(RedisError, OSError):
                await reader.aclose()

    async def _read_once(self, reader: aioredis.Redis) -> None:
        try:
            reply: Any = await reader.xread({keys.EVENTS: self._last_id}, count=READ_COUNT, block=BLOCK_MS)
        except (RedisError, OSError) as exc:
            if self.subscribers:  # else the hub is closing, or its last client left
                log.warning("events_read_failed", error=str(exc))
                await asyncio.sleep(RETRY_S)
            return
        for _stream, entries in reply or ():
            for entry_id, raw in entries:
                event = decode(entry_id, raw)
                self._last_id = event.id
                self.publish(event)

    async def close(self) -> None:
        """Stop the reader and end every subscriber's stream."""
        for sub in self.subscribers:
            sub.close()
        self.subscribers.clear()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # redis-py may let a cancelled XREAD BLOCK run to its timeout: drop its connection instead.
            with contextlib.suppress(RedisError, OSError):
                await self._reader.connection_pool.disconnect()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def replay(client: aioredis.Redis, after: str, accepts: Callable[[Event], bool]) -> tuple[list[Event], bool]:
    """Return the accepted entries after ``after`` still in the stream, and whether some were trimmed away."""
    oldest: Any = await client.xrange(keys.EVENTS, count=1)
    gap = bool(oldest) and stream_id(_text(oldest[0][0])) > stream_id(after)
    found: list[Event] = []
    start = f"({after}"
    while True:
        entries: Any = await client.xrange(keys.EVENTS, min=start, count=READ_COUNT)
        for entry_id, raw in entries:
            event = decode(entry_id, raw)
            if accepts(event):
                found.append(event)
        if len(entries) < READ_COUNT:
            return found, gap
        start = f"({_text(entries[-1][0])}"
