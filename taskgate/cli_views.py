"""How the CLI shows tasks, stages and GPU leases to a person: aligned tables with a header."""

from __future__ import annotations

import json
from typing import Any


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Return ``rows`` as left-aligned columns under ``headers``."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in [headers, *rows]
    )


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def tasks_text(data: dict[str, Any]) -> str:
    """Render ``GET /v1/tasks``: one row per task, and the stage a ``--task-name`` filter matched."""
    tasks = data["tasks"]
    if not tasks:
        return "no tasks"
    headers = ["TASK_ID", "STATUS", "TASK_NAME", "CREATED", "UPDATED"]
    matched = any(t.get("matched_stage") for t in tasks)
    if matched:
        headers.append("MATCHED_STAGE")
    rows = []
    for t in tasks:
        row = [t["task_id"], t["status"], t["task_name"], t["created_at"] or "", t["updated_at"] or ""]
        if matched:
            stage = t.get("matched_stage") or {}
            row.append(f"{stage.get('task_name', '')} {stage.get('status', '')}".strip())
        rows.append(row)
    return table(headers, rows)


def status_text(record: dict[str, Any]) -> str:
    """Render a task with every stage: a table of stages, then each stage's outputs or error."""
    lines = [f"task {record['task_id']}: {record['status']} (latest stage {record['task_name']})"]
    rows = []
    for name, stage in record["stages"].items():
        duration = f"{stage['duration_s']:.1f}s" if stage.get("duration_s") is not None else ""
        progress = f"{stage['progress'] * 100:.0f}%" if stage.get("progress") is not None else ""
        rows.append([name, stage["status"], progress, str(stage["attempts"]), duration])
    lines.append(table(["STAGE", "STATUS", "PROGRESS", "ATTEMPTS", "DURATION"], rows))
    for name, stage in record["stages"].items():
        if stage.get("output"):
            lines.append(f"{name}:")
            lines += [f"  {key}: {_value(value)}" for key, value in stage["output"].items()]
        if stage.get("error"):
            lines.append(f"{name}: error: {stage['error']['type']}: {stage['error']['message']}")
    return "\n".join(lines)


def locks_text(data: dict[str, Any]) -> str:
    """Render ``GET /v1/monitor/gpu-locks``: a row per lease holder (or per free device)."""
    rows = []
    for device in data["devices"]:
        state = f"{len(device['holders'])}/{device['capacity']} held"
        holders = device["holders"] or [None]
        for holder in holders:
            who = ["", "", "", "", ""]
            if holder:
                who = [
                    f"{holder['task_id']} {holder['task_name']}",
                    f"{holder['host']}:{holder['pid']}",
                    f"{holder['age_s']:.1f}s",
                    f"{holder['ttl_left_s']:.1f}s",
                    str(holder["fencing_token"]),
                ]
            rows.append([str(device["device"]), state, *who, str(device["waiters"])])
    headers = ["GPU", "LEASES", "HOLDER", "WHERE", "AGE", "TTL_LEFT", "TOKEN", "WAITERS"]
    return table(headers, rows) if rows else "no GPU devices configured"
