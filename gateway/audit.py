"""The audit log: who did which admin action, when, from where (a Redis Stream trimmed by age).

A route names its action with ``@audited("lease.release")`` under its route decorator; the middleware records
every call of such a route after it is answered (refusals included: 401, 403 and 4xx are recorded with their
status), so "who purged this task?" has one answer.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import msgspec
import redis.asyncio as aioredis
import structlog
from aiohttp import web

from config import keys
from gateway.auth import PRINCIPAL
from gateway.context import CTX, SETTINGS
from gateway.problems import Handler
from redis_io import text, text_map

AUDIT_ATTR = "__taskgate_audit__"
REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}\Z")

Action = str | Callable[[web.Request], str]
F = TypeVar("F", bound=Callable[..., Any])
log = structlog.get_logger(__name__)


class AuditEntry(msgspec.Struct, kw_only=True):
    """One recorded admin action (``GET /v1/audit`` lists them newest first)."""

    id: str
    at_ms: int
    action: str
    actor: str
    remote: str
    request_id: str
    method: str
    path: str
    status: int
    target: dict[str, str] = msgspec.field(default_factory=dict)


def audited(action: Action) -> Callable[[F], F]:
    """Mark a handler as an admin action named ``action`` (or named by ``action(request)``)."""

    def mark(handler: F) -> F:
        setattr(handler, AUDIT_ATTR, action)
        return handler

    return mark


def request_id(request: web.Request) -> str:
    """Return the caller's ``X-Request-Id`` when it is a sane token, else a new one."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


@web.middleware
async def audit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Record each call of an audited route with the status it was answered with."""
    action = getattr(request.match_info.handler, AUDIT_ATTR, None)
    if action is None:
        return await handler(request)
    rid = request_id(request)
    status = 500
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        status = exc.status
        raise
    else:
        status = response.status
        if not response.prepared:
            response.headers[REQUEST_ID_HEADER] = rid
    finally:
        name = action if isinstance(action, str) else action(request)
        await _record(request, name, rid, status)
    return response


async def _record(request: web.Request, action: str, rid: str, status: int) -> None:
    principal = request.get(PRINCIPAL)
    fields = {
        "action": action,
        "actor": principal.name if principal is not None else "unauthenticated",
        "remote": request.remote or "",
        "request_id": rid,
        "method": request.method,
        "path": request.path,
        "status": str(status),
        "target": msgspec.json.encode(dict(request.match_info)),
    }
    retention_ms = request.app[SETTINGS].audit.retention_s * 1000
    min_id = f"{int(time.time() * 1000) - retention_ms}-0"
    try:  # the action itself is done: a log that cannot be written is a warning, not the caller's error
        await request.app[CTX].redis.xadd(keys.AUDIT, fields, minid=min_id, approximate=False)  # type: ignore[arg-type]
    except (aioredis.RedisError, OSError) as exc:
        log.warning("audit_not_recorded", action=action, request_id=rid, error=str(exc))
        return
    log.info("audit_recorded", action=action, actor=fields["actor"], request_id=rid, status=status)


def decode_entry(entry_id: Any, fields: Mapping[Any, Any]) -> AuditEntry:
    """Turn one stream entry (as redis-py returns it) into an ``AuditEntry``."""
    text_id = text(entry_id)
    values = text_map(fields)
    return AuditEntry(
        id=text_id,
        at_ms=int(text_id.split("-", 1)[0]),
        action=values.get("action", ""),
        actor=values.get("actor", ""),
        remote=values.get("remote", ""),
        request_id=values.get("request_id", ""),
        method=values.get("method", ""),
        path=values.get("path", ""),
        status=int(values.get("status", "0")),
        target=msgspec.json.decode(values.get("target", "{}"), type=dict[str, str]),
    )


__all__ = ["AuditEntry", "audit_middleware", "audited", "decode_entry", "request_id"]
