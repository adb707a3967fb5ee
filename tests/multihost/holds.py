"""Who held the GPU when: from each host's own log, and from the stage records in Redis."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.multihost.cluster import Cluster, at

NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Hold:
    """One holder's time on a device, as one record tells it."""

    source: str
    fencing_token: int
    start: datetime
    end: datetime


def logged_holds(cluster: Cluster, hostname: str) -> list[Hold]:
    """Return the holds a host's log shows: from taking a lease to releasing it or learning it was lost.

    A hold the log never ends (its process was killed) lasts forever as far as this log can tell.
    """
    taken: dict[int, datetime] = {}
    holds = []
    for entry in cluster.events(hostname):
        token = entry.get("fencing_token")
        if entry.get("event") == "gpu_lease_taken":
            taken[token] = at(entry)
        elif entry.get("event") in ("lease_released", "gpu_lease_lost") and token in taken:
            holds.append(Hold(hostname, token, taken.pop(token), at(entry)))
    return holds + [Hold(hostname, token, start, NEVER) for token, start in taken.items()]


def recorded_holds(cluster: Cluster, task_ids: list[str]) -> list[Hold]:
    """Return the holds the stage records show (``gpu.acquired_at`` to ``gpu.released_at``)."""
    holds = []
    for task_id in task_ids:
        gpu: dict[str, Any] | None = cluster.stage(task_id).gpu
        if gpu and gpu.get("released_at"):
            start, end = (datetime.fromisoformat(gpu[k]) for k in ("acquired_at", "released_at"))
            holds.append(Hold(f"stage {task_id}", gpu["fencing_token"], start, end))
    return holds


def overlaps(holds: list[Hold]) -> list[tuple[Hold, Hold]]:
    """Return every pair of holds of different leases whose times overlap (capacity 1: double holders)."""
    ordered = sorted(holds, key=lambda h: h.start)
    return [
        (a, b)
        for i, a in enumerate(ordered)
        for b in ordered[i + 1 :]
        if a.fencing_token != b.fencing_token and b.start < a.end
    ]
