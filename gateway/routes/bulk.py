"""``POST /v1/tasks/retry`` and ``POST /v1/tasks/cancel``: bulk actions by filter (admin, audited)."""

from __future__ import annotations

import structlog
from aiohttp import web

from actors.messages import stage_message
from actors.registry import REGISTRY
from gateway.audit import audited
from gateway.auth import ADMIN, require_scope
from gateway.bodies import read_body
from gateway.context import context
from gateway.responses import json_response
from gateway.task_filters import decode_bulk, from_body
from state.bulk import Action, BulkOutcome, run_bulk
from state.create_call import QueuedMessage

routes = web.RouteTableDef()
log = structlog.get_logger(__name__)


def _message(task_name: str, workflow_id: str) -> QueuedMessage:
    return stage_message(REGISTRY[task_name].queue, task_name, workflow_id)


async def _bulk(request: web.Request, action: Action) -> web.Response:
    ctx = context(request)
    req = decode_bulk(await read_body(request))
    selector = from_body(req)
    outcome: BulkOutcome = await run_bulk(ctx.store, action, selector, dry_run=req.dry_run, make_message=_message)
    if not req.dry_run:
        ctx.metrics.bulk(action, outcome.count)
    log.info(
        "bulk_action",
        action=action,
        dry_run=req.dry_run,
        matched=outcome.matched,
        count=outcome.count,
        skipped=outcome.skipped,
        pages=outcome.pages,
        elapsed_s=outcome.elapsed_s,
    )
    return json_response(
        {
            "action": action,
            "dry_run": req.dry_run,
            "matched": outcome.matched,
            "count": outcome.count,
            "skipped": outcome.skipped,
            "sample": outcome.sample,
            "pages": outcome.pages,
            "elapsed_s": outcome.elapsed_s,
        }
    )


@routes.post("/v1/tasks/retry")
@require_scope(ADMIN)
@audited("task.bulk_retry")
async def bulk_retry(request: web.Request) -> web.Response:
    """Run again every FAILED or CANCELLED task the filter matches (its earlier runs stay in its history)."""
    return await _bulk(request, "retry")


@routes.post("/v1/tasks/cancel")
@require_scope(ADMIN)
@audited("task.bulk_cancel")
async def bulk_cancel(request: web.Request) -> web.Response:
    """Cancel every task the filter matches that has not ended (pending ones now, running ones at a checkpoint)."""
    return await _bulk(request, "cancel")
