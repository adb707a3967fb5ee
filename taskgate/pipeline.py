"""Pipeline files for ``taskgate submit --file``: several stages under one task_id, chained by references.

```yaml
task_id: talk-7                  # optional: a new id when absent
callback: http://n8n:5678/hook   # optional
stages:
  - task_name: ffmpeg.extract_audio
    input_data: {video_path: videos/talk.mp4}
  - task_name: faster_whisper.transcribe_audio
    input_data: {audio_path: "${{ stages.ffmpeg.extract_audio.output.audio_path }}"}
```
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from taskgate.http_client import EXIT_USAGE, CliError


def _stage(entry: Any, index: int) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("task_name"), str):
        raise CliError(f"stages[{index}] must be a mapping with a task_name", EXIT_USAGE)
    unknown = set(entry) - {"task_name", "input_data"}
    if unknown:
        raise CliError(f"stages[{index}] has unknown keys {sorted(unknown)}; use task_name and input_data", EXIT_USAGE)
    data = entry.get("input_data") or {}
    if not isinstance(data, dict):
        raise CliError(f"stages[{index}].input_data must be a mapping", EXIT_USAGE)
    return {"task_name": entry["task_name"], "input_data": data}


def read_pipeline(path: Path, task_id: str | None, callback: str | None) -> list[dict[str, Any]]:
    """Return the request bodies of a pipeline file's stages, in order, all under one task_id.

    Raises:
        CliError: the file cannot be read or is not a pipeline.
    """
    import yaml  # noqa: PLC0415  (only this command reads YAML; the CLI starts without it)

    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CliError(f"cannot read pipeline {path}: {exc}", EXIT_USAGE) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("stages"), list) or not doc["stages"]:
        raise CliError(f"{path}: a pipeline is a mapping with a non-empty `stages` list", EXIT_USAGE)
    unknown = set(doc) - {"task_id", "callback", "stages"}
    if unknown:
        raise CliError(f"{path}: unknown keys {sorted(unknown)}; use task_id, callback and stages", EXIT_USAGE)
    shared: dict[str, Any] = {"task_id": task_id or doc.get("task_id") or uuid.uuid4().hex}
    if callback or doc.get("callback"):
        shared["callback"] = callback or doc["callback"]
    return [{**_stage(entry, i), **shared} for i, entry in enumerate(doc["stages"])]
