"""The OpenAPI operations of task search (``GET /v1/tasks``) and the bulk actions by filter."""

from __future__ import annotations

from typing import Any

from gateway.openapi_paths import Operations, json_doc, ref
from state.search import CURSOR_PATTERN

_WHEN = {"type": "integer", "minimum": 0, "maximum": 10**15, "description": "epoch milliseconds"}
_LABEL = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}:[^\x00-\x1f\x7f]{1,128}$"
_STATUS = {"type": "string", "enum": ["SCHEDULED", "PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED"]}


def _query(name: str, schema: dict[str, Any], description: str, *, many: bool = False) -> dict[str, Any]:
    param = {"name": name, "in": "query", "required": False, "schema": schema, "description": description}
    if many:
        param |= {"schema": {"type": "array", "items": schema}, "style": "form", "explode": True}
    return param


def search_operations() -> Operations:
    """Return the documented search and bulk operations."""
    bulk_body = {"required": True, "content": {"application/json": {"schema": ref("BulkRequest")}}}
    bulk_responses = {
        "200": json_doc(ref("BulkResult"), "What was done (or, with dry_run, would be done)"),
        "400": None,
        "422": None,
    }
    name = {"type": "string", "minLength": 1, "maxLength": 128}
    return {
        ("get", "/v1/tasks"): {
            "tags": ["tasks"],
            "description": (
                "Filters combine (AND). `status` and `error_type` are those of the `task_name` stage when one is "
                "given, else of the latest stage. `since`/`until` bound when the task was submitted (ISO 8601 with "
                "a zone is accepted too). One request reads a bounded part of the index: a narrow filter may "
                "return a short page with a `next_cursor` to go on from."
            ),
            "parameters": [
                _query("status", _STATUS, "Only tasks whose (latest, or task_name) stage has this status"),
                _query("task_name", name, "Only tasks with a stage of this task_name"),
                _query("key", name, "Only tasks submitted with this API key (its name)"),
                _query("tenant", name, "Only tasks of this tenant"),
                _query("error_type", name, "Only tasks whose stage failed with this error type"),
                _query("label", {"type": "string", "pattern": _LABEL}, "name:value, repeatable", many=True),
                _query("since", _WHEN, "Only tasks submitted at or after this time"),
                _query("until", _WHEN, "Only tasks submitted at or before this time"),
                _query(
                    "cursor", {"type": "string", "pattern": CURSOR_PATTERN.replace("\\Z", "$")}, "next_cursor of a page"
                ),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "At most this many"),
            ],
            "responses": {"200": json_doc(ref("TaskList"), "Tasks, newest first"), "400": None},
        },
        ("post", "/v1/tasks/retry"): {
            "tags": ["tasks"],
            "description": (
                "Runs again every FAILED or CANCELLED task the filter matches (its latest stage, or the task_name "
                "stage when it is the latest): back to PENDING under a new message, its earlier run kept in the "
                "stage's `history`. Works in pages of 500; answers when done. No filter at all: 422."
            ),
            "requestBody": bulk_body,
            "responses": bulk_responses,
        },
        ("post", "/v1/tasks/cancel"): {
            "tags": ["tasks"],
            "description": (
                "Cancels every task the filter matches that has not ended: a pending one now, a running one at "
                "its next checkpoint. Works in pages of 500; answers when done. No filter at all: 422."
            ),
            "requestBody": bulk_body,
            "responses": bulk_responses,
        },
    }
