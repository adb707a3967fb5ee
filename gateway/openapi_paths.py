"""The documented operations of the OpenAPI document, by (method, path), and its building blocks."""

from __future__ import annotations

from typing import Any

from config import Settings
from gateway.paths import FILE_PATH_PATTERN, max_relative_path_chars
from gateway.problems import PROBLEM_JSON

REF = "#/components/schemas/{name}"
Operations = dict[tuple[str, str], dict[str, Any]]

PROBLEMS = {
    "400": "The request is malformed",
    "401": "No valid API key was sent",
    "403": "The key lacks the needed scope",
    "404": "Not found",
    "409": "Conflicts with the current state",
    "413": "Too large",
    "422": "A field is invalid (`errors` points at it)",
    "429": "The API key is at a limit (`limit`, `value`, `current`); retry after `Retry-After` seconds",
    "503": "A dependency is down; retry after `Retry-After`",
}


def ref(name: str) -> dict[str, str]:
    """Return a ``$ref`` to a component schema."""
    return {"$ref": REF.format(name=name)}


def json_doc(schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return a JSON response object."""
    out: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


def problem_doc(description: str) -> dict[str, Any]:
    """Return a problem-document response object."""
    return {"description": description, "content": {PROBLEM_JSON: {"schema": ref("Problem")}}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def path_param(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return a required path parameter."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema or {"type": "string"},
        "description": description,
    }


_LOCATION = {"Location": {"schema": {"type": "string"}, "description": "Where to read the resource"}}
_TASK_ID = path_param("task_id", "The task id", {"type": "string", "minLength": 1})


def file_path_schema(settings: Settings) -> dict[str, Any]:
    """Return the schema of a file path of the ``/v1/files`` routes (its length depends on the root's)."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_relative_path_chars(settings.share_root),
        "pattern": FILE_PATH_PATTERN,
        "description": (
            "Names separated by single '/', each at most 255 bytes (UTF-8), no control characters, no '.' or '..' "
            "names, not under .taskgate-tmp, at most PATH_MAX (4096) bytes once joined to the storage root; an "
            "absolute path inside the storage root works too"
        ),
    }


def _task_operations(task_request: dict[str, Any]) -> Operations:
    view = json_doc(ref("TaskView"), "The task")
    return {
        ("post", "/v1/tasks"): {
            "tags": ["tasks"],
            "requestBody": {"required": True, "content": {"application/json": {"schema": task_request}}},
            "responses": {
                "202": json_doc(ref("TaskView"), "Created and queued", _LOCATION),
                "200": json_doc(ref("TaskView"), "The identical stage already exists", _LOCATION),
                "400": None,
                "409": None,
                "413": None,
                "422": None,
                "429": None,
                "503": None,
            },
        },
        ("get", "/v1/tasks/{task_id}"): {
            "tags": ["tasks"],
            "parameters": [_TASK_ID],
            "responses": {"200": view, "404": None},
        },
        ("delete", "/v1/tasks/{task_id}"): {
            "tags": ["tasks"],
            "parameters": [
                _TASK_ID,
                _query("purge", {"type": "boolean", "default": False}, "Delete a finished task's record and files"),
            ],
            "responses": {
                "200": json_doc(ref("TaskView"), "Cancelled (it was pending), or purged (the record it had)"),
                "202": json_doc(ref("TaskView"), "Asked to stop (it is running)"),
                "400": None,
                "404": None,
                "409": None,
            },
        },
        ("get", "/v1/tasks/{task_id}/result"): {
            "tags": ["tasks"],
            "parameters": [_TASK_ID],
            "responses": {"200": json_doc(ref("TaskResult"), "The outcome"), "404": None, "409": None},
        },
        ("post", "/v1/tasks/{task_id}/callback/redeliver"): {
            "tags": ["webhooks"],
            "description": "Needs a task that has a callback URL and whose latest stage has ended (409 otherwise).",
            "parameters": [_TASK_ID],
            "responses": {"202": view, "404": None, "409": None, "503": None},
        },
        ("get", "/v1/task-types"): {"tags": ["tasks"], "responses": {"200": json_doc(ref("TaskTypes"), "Every task")}},
    }


def _file_operations(settings: Settings) -> Operations:
    path_schema = file_path_schema(settings)
    file_path = path_param("path", "A path inside the storage root", path_schema)
    list_max = settings.files.list_max
    target = {**path_schema, "description": "Target path; default uploads/<filename>"}
    upload = {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary", "description": "The content (streamed to disk)"},
            "path": {
                **target,
                "description": "Target path; default uploads/<filename> (here or in the query, not both)",
            },
            "overwrite": {
                "type": "boolean",
                "description": "Replace an existing file (else 409): true or false (here or in the query, not both)",
            },
        },
        "additionalProperties": False,
    }
    return {
        ("post", "/v1/files"): {
            "tags": ["files"],
            "parameters": [
                _query("path", target, "Target path (or a form field; not both: 422)"),
                _query("overwrite", {"type": "boolean"}, "Replace an existing file: true or false (or a form field)"),
            ],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": upload}}},
            "responses": {
                "201": json_doc(ref("Uploaded"), "Stored", _LOCATION),
                "400": None,
                "409": None,
                "413": None,
                "422": None,
            },
        },
        ("get", "/v1/files"): {
            "tags": ["files"],
            "parameters": [
                _query("prefix", {"type": "string"}, "Only paths that start with this"),
                _query(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": list_max, "default": list_max},
                    "At most this many (files.list_max)",
                ),
            ],
            "responses": {"200": json_doc(ref("FileList"), "Matching files"), "400": None, "422": None},
        },
        ("get", "/v1/files/{path}"): {
            "tags": ["files"],
            "parameters": [file_path],
            "responses": {
                "200": {
                    "description": "The content",
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                "206": {"description": "The requested range", "content": {"*/*": {"schema": {"type": "string"}}}},
                "304": {"description": "Not modified"},
                "404": None,
                "416": None,
                "422": None,
            },
        },
        ("delete", "/v1/files/{path}"): {
            "tags": ["files"],
            "parameters": [file_path],
            "responses": {"204": {"description": "Deleted"}, "404": None, "422": None},
        },
    }


def _service_operations() -> Operations:
    return {
        ("get", "/healthz"): {"tags": ["health"], "responses": {"200": json_doc(ref("Health"), "Up")}},
        ("get", "/readyz"): {"tags": ["health"], "responses": {"200": json_doc(ref("Ready"), "Ready"), "503": None}},
        ("get", "/metrics"): {
            "tags": ["health"],
            "responses": {
                "200": {
                    "description": "Prometheus text exposition",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        },
        ("get", "/openapi.json"): {
            "tags": ["docs"],
            "responses": {"200": json_doc({"type": "object"}, "This document")},
        },
        ("get", "/docs"): {
            "tags": ["docs"],
            "responses": {
                "200": {"description": "The API page", "content": {"text/html": {"schema": {"type": "string"}}}}
            },
        },
    }


def _monitor_operations() -> Operations:
    return {
        ("post", "/v1/monitor/gpu-locks/{device}/release"): {
            "tags": ["monitor"],
            "parameters": [path_param("device", "A GPU index of gpu_lock.devices", {"type": "integer", "minimum": 0})],
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("ReleaseRequest")}}},
            "responses": {
                "200": json_doc({"type": "object"}, "Released"),
                "400": None,
                "404": None,
                "409": None,
                "413": None,
                "422": None,
            },
        },
        ("put", "/v1/monitor/config"): {
            "tags": ["monitor"],
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("LiveConfigPatch")}}},
            "responses": {
                "200": json_doc({"type": "object"}, "The live settings after the change"),
                "400": None,
                "413": None,
                "422": None,
            },
        },
    }


_SSE_DESCRIPTION = (
    "Server-Sent Events (`text/event-stream`). Each event has `id:` (its Redis stream id), `event:` (its type) "
    "and `data:` (one JSON object with `type`, `at_ms` and the fields of its kind). Kinds: `stage` "
    "(`task_id`, `task_name`, `status`, `rev`), `progress` (`task_id`, `task_name`, `progress` 0..1), and for "
    "admin keys only, mirroring `/v1/monitor/*`: `lease` (`action` granted, queued, released, force_released "
    "or expired (its holder stopped renewing; `expired_at_ms`, seen at the device's next lock call); `device`, "
    "`fencing_token`, `task_id`, `task_name`, `host`, `pid`), `tier` (`kind`, "
    "`task_id`, `task_name`, `detail`), `worker` (`action` up or down, `worker` host:pid) and `throttle` (a "
    "submit refused at a key's limit: `key`, `task_id`, `task_name`, `limit`, `value`, `current`). A `: keep-alive` "
    "comment comes every `events.keepalive_s` of silence. Reconnect with `Last-Event-ID` to get what was "
    "missed while it is still in the stream's window (about the last 10,000 events); a `gap` event says "
    "some were older than that. A client that falls `events.client_queue` events behind gets an `overflow` "
    "event and the stream ends; it resumes the same way."
)


# One Server-Sent Event as the stream's parsers see it (``data`` is one line of JSON).
_SSE_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string"},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}


def _sse(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/event-stream": {"schema": _SSE_EVENT}}}


def _event_operations() -> Operations:
    kinds = "stage, progress, batch, lease, tier, worker, throttle, queue"
    last_id = {
        "name": "Last-Event-ID",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "pattern": r"^\d+(-\d+)?$"},
        "description": "Resume after this event id (what an EventSource sends on reconnect)",
    }
    types = _query(
        "type", {"type": "string"}, f"Comma-separated kinds ({kinds}); default: all the key may see (403 past that)"
    )
    status_enum = {"type": "string", "enum": ["SCHEDULED", "PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED"]}
    return {
        ("get", "/v1/events"): {
            "tags": ["events"],
            "description": _SSE_DESCRIPTION,
            "parameters": [
                types,
                _query("task_name", {"type": "string"}, "Only events about this task_name"),
                _query("status", status_enum, "Only stage events that move to this status"),
                last_id,
            ],
            "responses": {"200": _sse("The live event stream (it does not end by itself)"), "400": None, "403": None},
        },
        ("get", "/v1/tasks/{task_id}/events"): {
            "tags": ["events"],
            "description": "One task's events: first a `snapshot` event (the task as `GET /v1/tasks/{task_id}` "
            "shows it), then its `stage`, `progress` (and for admin keys `lease` and `tier`) events; an `end` "
            "event (`task_id`, `status`) closes the stream once every stage has ended (at once if they "
            "already had). " + _SSE_DESCRIPTION.split(". ", 1)[1],
            "parameters": [_TASK_ID, types, last_id],
            "responses": {
                "200": _sse("The task's event stream, ending after its last stage ends"),
                "400": None,
                "403": None,
                "404": None,
            },
        },
        ("get", "/v1/whoami"): {
            "tags": ["auth"],
            "responses": {"200": json_doc(ref("WhoAmI"), "The caller's key and scopes")},
        },
    }


def operations(task_request: dict[str, Any], settings: Settings) -> Operations:
    """Return every documented operation; ``None`` responses are problem documents."""
    return {
        **_task_operations(task_request),
        **_file_operations(settings),
        **_monitor_operations(),
        **_service_operations(),
        **_event_operations(),
        **_audit_operations(),
    }


def _audit_operations() -> Operations:
    # ISO 8601 with a time zone is accepted too (2026-12-05T10:00:00Z); the document shows the plain form
    when = {"type": "integer", "minimum": 0, "maximum": 10**15, "description": "epoch milliseconds"}
    return {
        ("get", "/v1/audit"): {
            "tags": ["monitor"],
            "parameters": [
                _query("actor", {"type": "string"}, "Only actions by this key name"),
                _query("action", {"type": "string"}, "An action name (task.cancel), or a prefix ending in '.'"),
                _query("since", when, "Only actions at or after this time"),
                _query("until", when, "Only actions at or before this time"),
                _query("cursor", {"type": "string", "pattern": r"^\d{1,19}-\d{1,19}$"}, "next_cursor of a page"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}, "At most this many"),
            ],
            "responses": {"200": json_doc(ref("AuditList"), "Admin actions, newest first"), "400": None},
        },
    }
