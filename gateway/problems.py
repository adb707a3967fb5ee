"""RFC 9457 problem documents: one table maps exception types to status and slug."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
import redis.exceptions
import structlog
from aiohttp import web

from actors.validation import InvalidInput
from gateway.context import SETTINGS
from gateway.errors import (
    BadQuery,
    BadRequest,
    BodyTimeout,
    Forbidden,
    LeaseNotFound,
    NoCallback,
    SubmitUnconfirmed,
    UnknownHost,
    UnknownKey,
    UnknownQueue,
    UnknownTask,
)
from gateway.task_filters import EmptyFilter, TenantForbidden
from gpu_lock import UnknownDevice
from state import IllegalTransition, LimitExceeded, StageFinished, StageNotTerminal, TaskConflict, TaskNotFound
from state.search import BadCursor

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_S = 5

log = structlog.get_logger(__name__)


class FieldError(msgspec.Struct, kw_only=True):
    """One invalid field: a JSON path into the request and what is wrong with it."""

    pointer: str
    detail: str


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None
    # an extension member: the task a failed submit may have created (retry with it, never without it)
    task_id: str | None = None
    # extension members of a 429 (limit-exceeded): the limit reached, its value and the key's current count
    limit: str | None = None
    value: int | None = None
    current: int | None = None


# exception type -> (HTTP status, slug, title); the first match in order wins.
ERROR_TABLE: list[tuple[type[BaseException], int, str, str]] = [
    (InvalidInput, 422, "invalid-input", "The input does not match the task's schema"),
    (UnknownTask, 422, "unknown-task", "Unknown task_name"),
    (BadRequest, 400, "bad-request", "The request body is not valid"),
    (BadQuery, 400, "bad-query", "A query parameter is not valid"),
    (BadCursor, 400, "bad-query", "A query parameter is not valid"),
    (EmptyFilter, 422, "empty-filter", "A bulk action needs a filter"),
    (TenantForbidden, 403, "forbidden", "Forbidden"),
    (BodyTimeout, 408, "request-timeout", "The request body did not arrive in time"),
    (TaskNotFound, 404, "not-found", "No such task"),
    (UnknownKey, 404, "unknown-key", "No such API key"),
    (TaskConflict, 409, "conflict", "The task_id is already used with other input"),
    (StageNotTerminal, 409, "not-finished", "The task has not finished"),
    (NoCallback, 409, "no-callback", "The task has no callback URL"),
    (StageFinished, 409, "already-finished", "The task has already finished"),
    (IllegalTransition, 409, "illegal-transition", "The task cannot change that way now"),
    (Forbidden, 403, "forbidden", "Forbidden"),
    (UnknownQueue, 404, "unknown-queue", "No such queue"),
    (UnknownHost, 404, "unknown-host", "No such worker host"),
    (UnknownDevice, 404, "unknown-device", "No such GPU device"),
    (LeaseNotFound, 409, "lease-not-found", "No lease carries that fencing token"),
    (SubmitUnconfirmed, 503, "submit-unconfirmed", "Redis did not confirm the submit"),
    (redis.exceptions.ConnectionError, 503, "redis-unavailable", "Redis is unavailable"),
    (redis.exceptions.TimeoutError, 503, "redis-unavailable", "Redis is unavailable"),
    # a primary demoted by a failover, still reached before clients move to the new one
    (redis.exceptions.ReadOnlyError, 503, "redis-unavailable", "Redis is unavailable"),
]

_encoder = msgspec.json.Encoder()


def problem_response(  # noqa: PLR0917  (mirrors the RFC 9457 members)
    status: int,
    slug: str,
    title: str,
    detail: str | None,
    instance: str | None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    task_id: str | None = None,
) -> web.Response:
    """Render a problem document."""
    body = Problem(
        type=f"urn:taskgate:problem:{slug}",
        title=title,
        status=status,
        detail=detail,
        instance=instance,
        errors=errors,
        task_id=task_id,
    )
    return web.Response(status=status, body=_encoder.encode(body), content_type=PROBLEM_JSON, headers=headers)


def limit_response(exc: LimitExceeded, retry_after_s: int, path: str) -> web.Response:
    """Render a submit refused at a key's limit: 429, ``Retry-After`` and the limit, its value and the count."""
    body = Problem(
        type="urn:taskgate:problem:limit-exceeded",
        title="A limit of the API key is reached",
        status=429,
        detail=f"{exc}; retry after {retry_after_s} s",
        instance=path,
        limit=exc.limit,
        value=exc.value,
        current=exc.current,
    )
    headers = {"Retry-After": str(retry_after_s)}
    return web.Response(status=429, body=_encoder.encode(body), content_type=PROBLEM_JSON, headers=headers)


def _from_exception(exc: BaseException, path: str) -> web.Response | None:
    for kind, status, slug, title in ERROR_TABLE:
        if isinstance(exc, kind):
            errors = [FieldError(pointer=exc.pointer, detail=str(exc))] if isinstance(exc, InvalidInput) else None
            headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
            if isinstance(exc, SubmitUnconfirmed):
                return problem_response(status, slug, title, str(exc), path, None, headers, exc.task_id)
            detail = str(exc) if status != 503 else f"{title}: retry later"
            return problem_response(status, slug, title, detail, path, errors, headers)
    return None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every error into a problem document; unmapped exceptions are logged and answered 500."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        slug = exc.reason.lower().replace(" ", "-")
        detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else None
        if exc.status == 413:
            detail = f"the body is larger than the limit of {request.app[SETTINGS].max_body_bytes} bytes"
        elif exc.status == 405:
            detail = f"{request.method} is not allowed here; use {exc.headers.get('Allow', 'another method')}"
        elif exc.status == 404:
            detail = f"no route for {request.path}"
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        return problem_response(exc.status, slug, exc.reason, detail, request.path, headers=headers)
    except Exception as exc:
        mapped = _from_exception(exc, request.path)
        if mapped is not None:
            if mapped.status >= 500:
                log.warning("dependency_unavailable", error=str(exc), path=request.path)
            return mapped
        log.exception("request_failed", path=request.path, method=request.method)
        return problem_response(500, "internal-error", "Internal Server Error", None, request.path)
