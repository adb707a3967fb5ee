"""Follow one task to its end through its event stream (``GET /v1/tasks/{task_id}/events``), drawing progress."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from taskgate.http_client import Api, CliError

EXIT_WAIT = 6
# Draws a task record's progress; gets the record and when following started (time.monotonic()).
Progress = Callable[[dict[str, Any], float], None]


def _apply(record: dict[str, Any], kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """Return ``record`` with one event of its stream applied (a snapshot replaces it)."""
    if kind == "snapshot":
        return data
    name = data.get("task_name", "")
    new = name not in record["stages"]
    stage = record["stages"].setdefault(name, {"status": "PENDING", "progress": None})
    if kind == "stage":
        stage["status"] = data["status"]
        if data["status"] == "SUCCESS":
            stage["progress"] = 1.0
        if new:  # a stage added since the snapshot is the task's latest
            record["task_name"] = name
        if name == record["task_name"]:
            record["status"] = data["status"]
    elif kind == "progress":
        stage["progress"] = data["progress"]
    return record


def _shown(record: dict[str, Any]) -> str:
    return json.dumps([record["status"], record["stages"].get(record["task_name"], {}).get("progress")])


def follow(api: Api, progress: Progress, task_id: str, timeout_s: float) -> dict[str, Any]:
    """Follow a task's event stream to its end, drawing progress; return its final record.

    Raises:
        CliError: the gateway failed, or ``timeout_s`` (when not 0) passed first (``EXIT_WAIT``).
    """
    started = time.monotonic()
    deadline = started + timeout_s if timeout_s else None
    path = f"/v1/tasks/{urllib.parse.quote(task_id)}/events"
    record: dict[str, Any] = {}
    shown = ""
    while True:
        left = deadline - time.monotonic() if deadline else None
        if left is not None and left <= 0:
            status = record.get("status", "unknown")
            raise CliError(f"task {task_id} is still {status} after {timeout_s} s", EXIT_WAIT)
        try:
            for kind, data in api.events(path, timeout_s=min(left, api.timeout_s) if left else None):
                if kind == "end":
                    record = dict(api.call("GET", f"/v1/tasks/{urllib.parse.quote(task_id)}"))
                elif kind in ("snapshot", "stage", "progress"):
                    record = _apply(record, kind, data)
                if _shown(record) != shown:
                    progress(record, started)
                    shown = _shown(record)
                if kind == "end":
                    return record
        except TimeoutError:
            continue  # the deadline check above decides; else the stream starts again with a snapshot
