"""``GET /v1/events`` and ``GET /v1/tasks/{task_id}/events``: live events as Server-Sent Events.

Both read the one events stream through the process's ``EventHub``. A task's events are a filter over
that stream rather than a stream per workflow: one bounded key and one reader per gateway whatever the
number of workflows, no per-workflow key to expire, and a task stream that starts with a snapshot (the
task as ``GET /v1/tasks/{task_id}`` shows it) needs no history of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from gateway.auth import ADMIN, OPEN, PRINCIPAL, Principal
from gateway.context import CTX, SETTINGS, context
from gateway.errors import BadRequest
from gateway.events import Event, EventHub, Subscriber, frame, replay, stream_id
from state import Status, Workflow, is_terminal, workflow_view

routes = web.RouteTableDef()
HUB = web.AppKey("taskgate_event_hub", EventHub)

# Stage, progress and batch (completed) events mirror GET /v1/tasks and /v1/batches (user scope); the rest
# mirror /v1/monitor/* (admin).
USER_TYPES = frozenset({"stage", "progress", "batch"})
ALL_TYPES = USER_TYPES | {"lease", "tier", "worker", "throttle", "queue"}
_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_RETRY_MS = 1000


async def events_ctx(app: web.Application) -> AsyncIterator[None]:
    """Create the process's event hub (its reader starts with the first client) and stop it at shutdown."""
    ctx = app[CTX]
    settings = app[SETTINGS]
    drops = ctx.metrics.event_clients_dropped
    app[HUB] = hub = EventHub(settings.redis_url or "", ctx.redis, settings.events.client_queue, drops.inc)
    ctx.metrics.event_clients.set_function(lambda: len(hub.subscribers))
    app.on_shutdown.append(_close_streams)  # before aiohttp waits for the open handlers to finish
    yield
    await hub.close()


async def _close_streams(app: web.Application) -> None:
    await app[HUB].close()


def _allowed_types(request: web.Request) -> frozenset[str]:
    principal: Principal = request.get(PRINCIPAL, OPEN)
    allowed = ALL_TYPES if principal.allows(ADMIN) else USER_TYPES
    wanted = request.query.get("type")
    if not wanted:
        return allowed
    asked = frozenset(t for t in wanted.split(",") if t)
    if unknown := asked - ALL_TYPES:
        raise BadRequest(f"type must be among {', '.join(sorted(ALL_TYPES))}; got {', '.join(sorted(unknown))}")
    if denied := asked - allowed:
        raise web.HTTPForbidden(text=f"{', '.join(sorted(denied))} events need the 'admin' scope")
    return asked


def _filter(request: web.Request) -> Callable[[Event], bool]:
    types = _allowed_types(request)
    task_name = request.query.get("task_name")
    status = request.query.get("status")
    if status is not None and status not in Status.__members__:
        raise BadRequest(f"status must be one of {', '.join(Status.__members__)}")

    def accepts(event: Event) -> bool:
        data = event.data
        if event.type not in types:
            return False
        if task_name is not None and data.get("task_name") != task_name:
            return False
        return status is None or data.get("status") == status

    return accepts


def _last_event_id(request: web.Request) -> str | None:
    value = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
    if not value:
        return None
    try:
        stream_id(value)
    except ValueError:
        raise BadRequest("Last-Event-ID must be a stream id like 1700000000000-0") from None
    return value


class EventStream:
    """One client's response: replay after Last-Event-ID, then the live queue, with keep-alives."""

    def __init__(self, request: web.Request, sub: Subscriber, keepalive_s: float) -> None:
        self.request = request
        self.sub = sub
        self.keepalive_s = keepalive_s
        self.response = web.StreamResponse(headers=_HEADERS)
        self.seen = (0, 0)

    async def open(self) -> None:
        """Send the headers and a first comment, so the client knows it is subscribed."""
        await self.response.prepare(self.request)
        await self.response.write(f"retry: {_RETRY_MS}\n: subscribed\n\n".encode())

    async def replay(self, hub: EventHub, after: str) -> list[Event]:
        """Send what the client missed after ``after`` (and a ``gap`` event when the window lost some)."""
        events, gap = await replay(hub.client, after, self.sub.accepts)
        if gap:
            await self.response.write(frame("gap", {"last_event_id": after}))
        for event in events:
            await self.send(event)
        return events

    async def send(self, event: Event) -> None:
        """Send one event unless the replay already sent it."""
        at = stream_id(event.id)
        if at > self.seen:
            self.seen = at
            await self.response.write(event.wire)

    async def next(self) -> Event | None:
        """Return the next live event, or None after a keep-alive; raise ``StreamEnded`` when dropped."""
        try:
            event = await asyncio.wait_for(self.sub.queue.get(), self.keepalive_s)
        except TimeoutError:
            await self.response.write(b": keep-alive\n\n")
            return None
        if self.sub.overflowed:
            await self.response.write(frame("overflow", {"last_event_id": self.seen_id}))
            raise StreamEnded
        if self.sub.closed:
            raise StreamEnded  # the gateway is stopping: the client resumes elsewhere with Last-Event-ID
        return event

    @property
    def seen_id(self) -> str:
        """Return the id of the last event sent."""
        return f"{self.seen[0]}-{self.seen[1]}"


class StageTracker:
    """A task's stage statuses, from its snapshot on: tells stale events from new ones, and when it ended."""

    def __init__(self, workflow: Workflow) -> None:
        self.revisions = dict(workflow.revisions)
        self.statuses = {name: str(stage.status) for name, stage in workflow.stages.items()}
        self.latest = workflow.latest

    def fresh(self, event: Event) -> bool:
        """Return whether ``event`` is news (a stage event the snapshot already shows is not); note it."""
        if event.type != "stage":
            return True
        name, rev = event.data["task_name"], event.data["rev"]
        if rev <= self.revisions.get(name, 0):
            return False
        if name not in self.statuses:
            self.latest = name
        self.revisions[name], self.statuses[name] = rev, event.data["status"]
        return True

    @property
    def ended(self) -> bool:
        """Return whether every stage has ended."""
        return all(map(is_terminal, self.statuses.values()))


class StreamEnded(Exception):
    """Raised when a client's stream must end: its queue overflowed, or the gateway is stopping."""


@routes.get("/v1/events")
async def events(request: web.Request) -> web.StreamResponse:
    """Stream every event (Server-Sent Events) the caller's scope may see, filtered by type, task_name, status."""
    accepts = _filter(request)
    after = _last_event_id(request)
    hub = request.app[HUB]
    sub = await hub.subscribe(accepts)
    stream = EventStream(request, sub, request.app[SETTINGS].events.keepalive_s)
    try:
        await stream.open()
        if after:
            await stream.replay(hub, after)
        while True:
            event = await stream.next()
            if event is not None:
                await stream.send(event)
    except (StreamEnded, ConnectionResetError):
        pass
    finally:
        hub.unsubscribe(sub)
    return stream.response


@routes.get("/v1/tasks/{task_id}/events")
async def task_events(request: web.Request) -> web.StreamResponse:
    """Stream one task's events: a ``snapshot`` first, then its changes, ending after its last stage ends."""
    ctx = context(request)
    task_id = request.match_info["task_id"]
    types = _allowed_types(request)
    after = _last_event_id(request)
    hub = request.app[HUB]
    sub = await hub.subscribe(lambda e: e.type in types and e.data.get("task_id") == task_id)
    try:
        workflow = await ctx.store.get(task_id)  # after subscribing: no change can fall in between
        stages = StageTracker(workflow)
        stream = EventStream(request, sub, ctx.settings.events.keepalive_s)
        await stream.open()
        await stream.response.write(frame("snapshot", workflow_view(workflow)))
        if after:
            await stream.replay(hub, after)
        while not stages.ended:
            event = await stream.next()
            if event is not None and stages.fresh(event):
                await stream.send(event)
        await stream.response.write(frame("end", {"task_id": task_id, "status": stages.statuses[stages.latest]}))
    except (StreamEnded, ConnectionResetError):
        pass
    finally:
        hub.unsubscribe(sub)
    return stream.response
