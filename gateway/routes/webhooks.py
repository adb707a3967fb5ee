"""``POST /v1/tasks/{task_id}/callback/redeliver``: a task's last webhook event sent again."""

from __future__ import annotations

from aiohttp import web

from actors.webhooks.events import Delivery
from actors.webhooks.outbox import delivery_message
from gateway.audit import audited
from gateway.context import context
from gateway.errors import NoCallback
from gateway.responses import json_response
from state import StageNotTerminal, is_terminal, workflow_view
from state.models import now_ms

routes = web.RouteTableDef()


@routes.post("/v1/tasks/{task_id}/callback/redeliver")
@audited("callback.redeliver")
async def redeliver(request: web.Request) -> web.Response:
    """Send the latest stage's event to the callback URL again (same event_id, new attempts)."""
    ctx = context(request)
    wf = await ctx.store.get(request.match_info["task_id"])
    stage = wf.latest_stage
    if wf.meta.callback is None:
        raise NoCallback(f"task {wf.meta.workflow_id!r} has no callback URL to deliver to")
    if not is_terminal(stage.status):
        raise StageNotTerminal(f"task {wf.meta.workflow_id!r} is {stage.status}; its event is sent when it ends")
    delivery = Delivery(
        workflow_id=wf.meta.workflow_id, task_name=stage.task_name, status=stage.status, chain=f"redeliver-{now_ms()}"
    )
    await ctx.sender.send(delivery_message(delivery))
    return json_response(workflow_view(wf), 202)
