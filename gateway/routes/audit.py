"""``GET /v1/audit``: the admin actions recorded by the audit middleware, newest first, paged by cursor."""

from __future__ import annotations

import re

from aiohttp import web

from config import keys
from gateway.audit import AuditEntry, decode_entry
from gateway.auth import ADMIN, require_scope
from gateway.context import context
from gateway.errors import BadQuery
from gateway.responses import json_response
from gateway.task_filters import time_ms

routes = web.RouteTableDef()

_LIMIT_MAX = 500
_READ_CHUNK = 200
# At most this many entries are read per request whatever the filters: a page may come back short with a
# cursor to go on from, so one request never walks the whole log.
_SCAN_MAX = 5000
_STREAM_ID = re.compile(r"^\d{1,19}-\d{1,19}\Z")  # both halves fit a 64-bit integer, as Redis needs


def _time_ms(request: web.Request, name: str) -> int | None:
    return time_ms(name, request.query.get(name))


def _limit(request: web.Request) -> int:
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        raise BadQuery("limit must be an integer") from None
    if not 1 <= limit <= _LIMIT_MAX:
        raise BadQuery(f"limit must be between 1 and {_LIMIT_MAX}")
    return limit


def _matches(entry: AuditEntry, actor: str | None, action: str | None) -> bool:
    if actor is not None and entry.actor != actor:
        return False
    if action is None:
        return True
    # "task." matches every task action; anything else is an exact name
    return entry.action.startswith(action) if action.endswith(".") else entry.action == action


@routes.get("/v1/audit")
@require_scope(ADMIN)
async def list_audit(request: web.Request) -> web.Response:
    """Admin actions, newest first: filters ``actor``, ``action``, ``since``, ``until``; ``cursor`` pages on."""
    ctx = context(request)
    limit = _limit(request)
    since, until = _time_ms(request, "since"), _time_ms(request, "until")
    cursor = request.query.get("cursor")
    if cursor is not None and not _STREAM_ID.match(cursor):
        raise BadQuery("cursor must be the next_cursor of an earlier page")
    actor, action = request.query.get("actor"), request.query.get("action")
    if cursor is not None and int(cursor.split("-", 1)[0]) == 0 and int(cursor.split("-", 1)[1]) == 0:
        return json_response({"entries": [], "next_cursor": None})  # nothing lies before the first possible id
    high = f"({cursor}" if cursor else ("+" if until is None else str(until))
    low = "-" if since is None else str(since)
    found: list[AuditEntry] = []
    scanned, last_id = 0, None
    while len(found) < limit and scanned < _SCAN_MAX:
        chunk = await ctx.redis.xrevrange(keys.AUDIT, max=high, min=low, count=_READ_CHUNK)
        if not chunk:
            last_id = None
            break
        for entry_id, fields in chunk:
            entry = decode_entry(entry_id, fields or {})
            scanned += 1
            last_id = entry.id
            if until is not None and entry.at_ms > until:
                continue
            if _matches(entry, actor, action):
                found.append(entry)
                if len(found) == limit:
                    break
        if len(chunk) < _READ_CHUNK and len(found) < limit:
            last_id = None  # the log is exhausted below this point
            break
        high = f"({last_id}"
    return json_response({"entries": found, "next_cursor": last_id})
