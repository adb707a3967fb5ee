"""Pipeline files for ``taskgate submit --file``, in the format of the gateway's pipeline definitions.

A file of stages only, submitted in order under one task_id (each stage's ``task`` and ``input``; the
older ``task_name``/``input_data`` keys are read too):

```yaml
task_id: talk-7                  # optional: a new id when absent
callback: http://n8n:5678/hook   # optional
stages:
  - task: ffmpeg.extract_audio
    input: {video_path: videos/talk.mp4}
  - task: faster_whisper.transcribe_audio
    input: {audio_path: "${{ stages.ffmpeg.extract_audio.output.audio_path }}"}
```

A whole definition (``name``, ``inputs``, ``stages``, ``output``: see the README's "Pipelines") is kept on
the gateway with ``PUT /v1/pipelines/{name}`` and submitted as ``pipeline.<name>`` with the ``key=value``
inputs of the command line.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from taskgate.http_client import EXIT_USAGE, CliError

_RUN_KEYS = {"task_id", "callback"}
_DEFINITION_KEYS = {"name", "description", "inputs", "stages", "output"}


def _stage(entry: Any, index: int) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise CliError(f"stages[{index}] must be a mapping with a task", EXIT_USAGE)
    unknown = set(entry) - {"task", "input", "task_name", "input_data"}
    if unknown:
        raise CliError(f"stages[{index}] has unknown keys {sorted(unknown)}; use task and input", EXIT_USAGE)
    task = entry.get("task", entry.get("task_name"))
    if not isinstance(task, str):
        raise CliError(f"stages[{index}] must name its task", EXIT_USAGE)
    data = entry.get("input", entry.get("input_data")) or {}
    if not isinstance(data, dict):
        raise CliError(f"stages[{index}].input must be a mapping", EXIT_USAGE)
    return {"task_name": task, "input_data": data}


def read_file(path: Path) -> dict[str, Any]:
    """Return a pipeline file's content.

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
    unknown = set(doc) - _RUN_KEYS - _DEFINITION_KEYS
    if unknown:
        raise CliError(f"{path}: unknown keys {sorted(unknown)}; see the README's Pipelines", EXIT_USAGE)
    return doc


def is_definition(doc: dict[str, Any]) -> bool:
    """Return whether a file is a whole definition (kept on the gateway) rather than stages to submit."""
    return "output" in doc or "inputs" in doc


def definition_of(doc: dict[str, Any]) -> dict[str, Any]:
    """Return the definition part of a file (without its task_id and callback)."""
    return {k: v for k, v in doc.items() if k in _DEFINITION_KEYS}


def read_pipeline(path: Path, task_id: str | None, callback: str | None) -> list[dict[str, Any]]:
    """Return the request bodies of a pipeline file's stages, in order, all under one task_id.

    Raises:
        CliError: the file cannot be read or is not a pipeline of stages.
    """
    doc = read_file(path)
    shared: dict[str, Any] = {"task_id": task_id or doc.get("task_id") or uuid.uuid4().hex}
    if callback or doc.get("callback"):
        shared["callback"] = callback or doc["callback"]
    return [{**_stage(entry, i), **shared} for i, entry in enumerate(doc["stages"])]
