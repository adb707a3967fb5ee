"""What the batch routes answer: the batch view, paging arguments, and their OpenAPI description."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from config import keys
from gateway.errors import BadQuery
from gateway.openapi import describe
from gateway.openapi_paths import json_doc, path_param
from state.batches import BatchRecord
from state.models import iso_ms

LIMIT_MAX = 500
_PAGE_DEFAULT = 100


def page_args(request: web.Request) -> tuple[int, int]:
    """Return ``offset`` (default 0) and ``limit`` (default 100, at most 500) from the query.

    Raises:
        BadQuery: either is not an integer in range.
    """
    try:
        offset = int(request.query.get("offset", "0"))
        limit = int(request.query.get("limit", str(_PAGE_DEFAULT)))
    except ValueError:
        raise BadQuery("offset and limit must be integers") from None
    if offset < 0 or offset > 10**9:
        raise BadQuery("offset must be between 0 and 1000000000")
    if not 1 <= limit <= LIMIT_MAX:
        raise BadQuery(f"limit must be between 1 and {LIMIT_MAX}")
    return offset, limit


def batch_view(record: BatchRecord, items: list[tuple[int, int, str]] | None, offset: int) -> dict[str, Any]:
    """Render a batch; with ``items``, that page of its items (index, task_id, status as counted)."""
    meta = record.meta
    view: dict[str, Any] = {
        "batch_id": meta.batch_id,
        "task_name": meta.task_name,
        "size": meta.size,
        "counts": record.counts,
        "ended": record.ended,
        "status": "COMPLETED" if record.complete else ("CREATING" if record.items_created < meta.size else "RUNNING"),
        "created_at": iso_ms(meta.created_at_ms),
        "completed_at": iso_ms(record.completed_at_ms),
        "cancel_requested_at": iso_ms(record.cancel_requested_at_ms),
        "callback": meta.callback,
        "callback_status": record.callback_status,
        "labels": meta.labels,
        "owner": meta.owner,
    }
    if items is not None:
        view["items"] = [
            {"index": index, "task_id": keys.batch_item_id(meta.batch_id, index), "status": status}
            for index, _rev, status in items
        ]
        following = offset + len(items)
        view["next_offset"] = following if following < meta.size else None
    return view


def _query(name: str, maximum: int, description: str) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": 0 if name == "offset" else 1, "maximum": maximum}
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def describe_routes(request_type: type[msgspec.Struct], submit: Any, get: Any, listing: Any, cancel: Any) -> None:
    """Attach the OpenAPI description of the four batch routes."""
    (ref,), components = msgspec.json.schema_components([request_type])
    body_schema = components[ref["$ref"].rsplit("/", 1)[1]]
    batch = json_doc({"type": "object"}, "The batch: counts by status, callback state, a page of items")
    batch_id = path_param("batch_id", "The batch id", {"type": "string", "minLength": 1})
    page = [_query("offset", 10**9, "First item of the page"), _query("limit", LIMIT_MAX, "Items per page")]
    problems = dict.fromkeys(("400", "404", "409", "413", "422", "503"))
    describe(
        requestBody={"required": True, "content": {"application/json": {"schema": body_schema}}},
        responses={"201": batch, "200": json_doc({"type": "object"}, "The same batch, submitted before"), **problems},
    )(submit)
    describe(parameters=[batch_id, *page], responses={"200": batch, "400": None, "404": None, "503": None})(get)
    listed = json_doc({"type": "object"}, "Recent batches, newest first")
    describe(parameters=[page[1]], responses={"200": listed, "400": None, "503": None})(listing)
    describe(parameters=[batch_id], responses={"202": batch, "403": None, "404": None, "503": None})(cancel)
