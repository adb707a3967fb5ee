"""Limits per API key: how much one key may have queued and running, and how fast it may submit."""

from __future__ import annotations

from typing import Annotated

import msgspec

from config.section import Section

Limit = Annotated[int, msgspec.Meta(ge=0, description="0 refuses every submit; unset: no limit")]


class TaskLimits(Section, omit_defaults=True):
    """The limits of one key for one task_name (each unset one does not apply)."""

    max_running: Limit | None = None
    max_queued: Limit | None = None
    submits_per_minute: Limit | None = None


class KeyLimits(Section, omit_defaults=True):
    """A key's limits over all its tasks, and per task_name (both apply: the first one reached refuses).

    ``max_queued`` counts the key's SCHEDULED and PENDING stages, ``max_running`` its RUNNING ones (a submit is
    refused while the key runs that many), ``submits_per_minute`` its accepted submits in the last 60 s.
    """

    max_running: Limit | None = None
    max_queued: Limit | None = None
    submits_per_minute: Limit | None = None
    per_task: dict[str, TaskLimits] = msgspec.field(default_factory=dict)
