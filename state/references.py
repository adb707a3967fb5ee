"""``${{ stages.<task_name>.output.<field> }}`` references between stages of one workflow."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from state.errors import BrokenReference, DependencyNotReady
from state.models import StageRecord
from state.transitions import Status

REFERENCE = re.compile(r"\$\{\{\s*stages\.([A-Za-z0-9_.-]+?)\.output((?:\.[A-Za-z0-9_-]+)+)\s*\}\}")
SYNTAX = "${{ stages.<task_name>.output.<field> }}"
# Anything written like a reference: `${{`, then up to the closing braces (or the end of the text).
_LOOKS_LIKE = re.compile(r"\$\{\{.*?(?:\}\}|$)", re.DOTALL)


def find_references(value: Any) -> set[str]:
    """Return the task names that ``value`` (any JSON value) refers to."""
    if isinstance(value, str):
        return {m.group(1) for m in REFERENCE.finditer(value)}
    if isinstance(value, Mapping):
        return set().union(*(find_references(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(find_references(v) for v in value)) if value else set()
    return set()


def is_reference(value: Any) -> bool:
    """Return whether ``value`` is exactly one reference (and so may stand for any type)."""
    return isinstance(value, str) and REFERENCE.fullmatch(value.strip()) is not None


def malformed_reference(value: str) -> str | None:
    """Return the first ``${{ ... }}`` in ``value`` that is not a valid reference, if any."""
    for match in _LOOKS_LIKE.finditer(value):
        if REFERENCE.fullmatch(match.group(0)) is None:
            return match.group(0)
    return None


def _lookup(stages: Mapping[str, StageRecord], task_name: str, path: str) -> Any:
    stage = stages.get(task_name)
    if stage is None:
        raise BrokenReference(f"no stage {task_name!r} in this workflow")
    if stage.status in (Status.SCHEDULED, Status.PENDING, Status.RUNNING):
        raise DependencyNotReady(f"stage {task_name!r} is {stage.status}", task_name)
    if stage.status != Status.SUCCESS or stage.output is None:
        raise BrokenReference(f"stage {task_name!r} ended {stage.status}; its output is not available")
    node: Any = stage.output
    for part in path.strip(".").split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise BrokenReference(f"stage {task_name!r} has no output field {path.strip('.')!r}")
    return node


def resolve(value: Any, stages: Mapping[str, StageRecord]) -> Any:
    """Replace every reference in ``value`` with the referenced output.

    A string that is exactly one reference takes the referenced value's type; references inside
    longer strings are substituted as text.

    Raises:
        DependencyNotReady: a referenced stage has not finished yet.
        BrokenReference: a referenced stage or field does not exist, or the stage did not succeed.
    """
    if isinstance(value, str):
        whole = REFERENCE.fullmatch(value.strip())
        if whole:
            return _lookup(stages, whole.group(1), whole.group(2))
        return REFERENCE.sub(lambda m: str(_lookup(stages, m.group(1), m.group(2))), value)
    if isinstance(value, Mapping):
        return {k: resolve(v, stages) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, stages) for v in value]
    return value
