"""The task filter of ``GET /v1/tasks`` (query) and of the bulk actions (JSON body), parsed into a ``TaskFilter``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from multidict import MultiMapping

from actors.validation import InvalidInput
from gateway.bodies import decode_json
from gateway.errors import BadQuery, GatewayError
from state.models import LABEL_NAME_PATTERN, Labels, TaskName, Tenant
from state.search import TaskFilter
from state.transitions import Status

TIME_MAX_MS = 10**15  # the year 33658: the bound the OpenAPI document states
KeyName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
ErrorType = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
When = Annotated[int, msgspec.Meta(ge=0, le=TIME_MAX_MS, description="epoch milliseconds")]
FILTER_FIELDS = ("task_name", "status", "key", "tenant", "error_type", "since", "until", "labels")


class EmptyFilter(GatewayError):
    """Raised when a bulk action names no filter at all."""


class TenantForbidden(GatewayError):
    """Raised when a key without the admin scope sets ``tenant`` on a submit."""


class BulkRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The body of ``POST /v1/tasks/retry`` and ``/cancel``: the filter of ``GET /v1/tasks``, plus ``dry_run``."""

    task_name: TaskName | None = None
    status: Literal["SCHEDULED", "PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED"] | None = None
    key: KeyName | None = None
    tenant: Tenant | None = None
    error_type: ErrorType | None = None
    since: When | None = None
    until: When | None = None
    labels: Labels | None = None
    dry_run: bool = False


def time_ms(name: str, value: int | str | None) -> int | None:
    """Return epoch ms from epoch ms (a number or digits) or an ISO 8601 time with a zone."""
    if value is None:
        return None
    if isinstance(value, int) or value.isdigit():
        if int(value) > TIME_MAX_MS:
            raise BadQuery(f"{name} must be at most {TIME_MAX_MS} (epoch milliseconds)")
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadQuery(f"{name} must be epoch milliseconds or an ISO 8601 time (2026-12-05T10:00:00Z)") from None
    if moment.tzinfo is None:
        raise BadQuery(f"{name} needs a time zone (Z or +01:00)")
    return int(moment.timestamp() * 1000)


def _labels(values: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for value in values:
        name, sep, wanted = value.partition(":")
        if not sep or not name or not wanted:
            raise BadQuery(f"label must be name:value (label=show:s01e02), not {value!r}")
        try:
            msgspec.convert({name: wanted}, Labels)
        except msgspec.ValidationError:
            raise BadQuery(
                f"label {value!r}: a name matches {LABEL_NAME_PATTERN} and a value is 1-128 printable characters"
            ) from None
        labels[name] = wanted
    return labels


def from_query(query: MultiMapping[str]) -> TaskFilter:
    """Return the filter a ``GET /v1/tasks`` query names (400 naming the bad parameter)."""
    status = query.get("status")
    if status is not None and status not in Status.__members__:
        raise BadQuery(f"status must be one of {', '.join(Status.__members__)}")
    for name in ("task_name", "key", "tenant", "error_type"):
        value = query.get(name)
        if value is not None and not 1 <= len(value) <= 128:
            raise BadQuery(f"{name} must be 1 to 128 characters")
    selector = TaskFilter(
        task_name=query.get("task_name"),
        status=status,
        key=query.get("key"),
        tenant=query.get("tenant"),
        error_type=query.get("error_type"),
        since=time_ms("since", query.get("since")),
        until=time_ms("until", query.get("until")),
        labels=_labels(query.getall("label", [])),
    )
    return selector


def from_body(req: BulkRequest) -> TaskFilter:
    """Return the filter of a bulk action's body.

    Raises:
        EmptyFilter: it names nothing (a bulk action over every task is refused).
    """
    selector = TaskFilter(
        task_name=req.task_name,
        status=req.status,
        key=req.key,
        tenant=req.tenant,
        error_type=req.error_type,
        since=time_ms("since", req.since),
        until=time_ms("until", req.until),
        labels=dict(req.labels or {}),
    )
    if selector.is_empty():
        raise EmptyFilter(f"name at least one filter: {', '.join(FILTER_FIELDS)}")
    return selector


def decode_bulk(body: bytes) -> BulkRequest:
    """Decode a bulk action's body (422 pointing at the bad field)."""
    try:
        return decode_json(body or b"{}", BulkRequest)
    except msgspec.ValidationError as exc:
        text = str(exc)
        at = text.rsplit(" - at `", 1)
        raise InvalidInput(text, at[1].rstrip("`") if len(at) == 2 else "$") from None
