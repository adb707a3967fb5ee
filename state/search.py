"""Search workflows by facets (task name, status, API key, tenant, labels, error type, time), paged by cursor.

Indexes, all sorted sets of workflow ids scored by milliseconds, kept by ``create_stage.lua``: every workflow
(``taskgate:index:tasks``) and per task name (both scored by the latest stage's creation), and, written once
when a workflow is created, per API key, tenant and label (``taskgate:index:key:{name}`` ...). ``search.lua``
walks the narrowest of the indexes a filter names within the time range and checks each id against the
others and the stage's status and error type; no key is ever scanned. A cursor is the last entry read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from config import keys
from redis_io import AsyncChannel, LuaScript, text
from state.errors import StateError
from state.models import now_ms

SEARCH = LuaScript.load("state", "search")
CURSOR_PATTERN = r"^\d{1,16}-[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z"
CURSOR = re.compile(CURSOR_PATTERN)
SCAN_MAX = 5000  # index entries one call reads at most: a narrow filter may return a short page and a cursor


class BadCursor(StateError):
    """Raised when a cursor is not one a search returned."""


@dataclass(frozen=True)
class Origin:
    """Who submitted a workflow and how it is labelled: written into its meta and its facet indexes."""

    key: str | None = None
    tenant: str | None = None
    labels: dict[str, str] | None = None

    def facet_keys(self) -> list[str]:
        """Return the facet indexes a workflow of this origin belongs to."""
        found = [keys.task_index_by_key(self.key)] if self.key else []
        if self.tenant:
            found.append(keys.task_index_by_tenant(self.tenant))
        found += [keys.task_index_by_label(k, v) for k, v in sorted((self.labels or {}).items())]
        return found


@dataclass(frozen=True)
class TaskFilter:
    """What selects tasks; ``since``/``until`` are epoch ms on the walked index's time."""

    task_name: str | None = None
    status: str | None = None
    key: str | None = None
    tenant: str | None = None
    error_type: str | None = None
    since: int | None = None
    until: int | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def is_empty(self) -> bool:
        """Return whether nothing is named (a bulk action refuses that)."""
        return not any((self.task_name, self.status, self.key, self.tenant, self.error_type, self.labels)) and (
            self.since is None and self.until is None
        )

    def indexes(self) -> list[str]:
        """Return the time indexes the filter intersects (every workflow's when it names no facet)."""
        found = Origin(self.key, self.tenant, self.labels).facet_keys()
        if self.task_name:
            found.append(keys.task_index_by_name(self.task_name))
        return found or [keys.TASK_INDEX]


def encode_cursor(score: Any, member: Any) -> str:
    """Return the cursor of the last index entry a page read: its time (ms), '-', its id."""
    return f"{int(float(text(score)))}-{text(member)}"


def decode_cursor(cursor: str) -> tuple[int, str]:
    """Return the score and id a cursor names.

    Raises:
        BadCursor: it is not a cursor a search returned.
    """
    if not CURSOR.match(cursor):
        raise BadCursor("cursor must be the next_cursor of an earlier page")
    score, member = cursor.split("-", 1)
    return int(score), member


async def search(
    channel: AsyncChannel, ttl_ms: int, selector: TaskFilter, limit: int, cursor: str | None = None
) -> tuple[list[str], str | None]:
    """Return up to ``limit`` ids matching ``selector``, newest first, and the cursor to go on (None: no more).

    Raises:
        BadCursor: ``cursor`` is not one a search returned.
    """
    low = max(selector.since or 0, now_ms() - ttl_ms)
    high = "+inf" if selector.until is None else str(selector.until)
    after_score, after_id = decode_cursor(cursor) if cursor is not None else ("", "")
    args: list[Any] = [
        low,
        high,
        after_score,
        after_id,
        limit,
        SCAN_MAX,
        selector.task_name or "",
        selector.status or "",
        selector.error_type or "",
        keys.workflow_state(""),
    ]
    ids, score, member = await SEARCH.run(channel, selector.indexes(), args)
    next_cursor = encode_cursor(score, member) if score else None
    return [text(i) for i in ids], next_cursor
