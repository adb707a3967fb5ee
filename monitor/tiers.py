"""Which timeout tiers a due check stands for, worked out from the run record.

A run has one entry in the checks sorted set (``keys.RUN_CHECKS``), scored at the deadline of the next tier it
has not been through: the server's time at its start plus that tier's limit (``state.tracking.queue_start``
sets the first; ``due_tiers`` the following ones). The record's ``started_ms`` is on the worker's clock, so the
tier a score stands for is the one whose deadline from ``started_ms`` lies closest to it: a skew between the
worker's and the server's clocks below half the gap between two tiers changes nothing. Every later tier whose
deadline (on the server's clock, from the same start) has passed too is due in the same pass.
"""

from __future__ import annotations

import msgspec

from state.tracking import TIERS, RunInfo


class DueTiers(msgspec.Struct, kw_only=True):
    """The runs due per tier, and when to look at each again (server ms; absent: its last tier is due)."""

    hard: list[str] = msgspec.field(default_factory=list)
    soft: list[str] = msgspec.field(default_factory=list)
    warning: list[str] = msgspec.field(default_factory=list)
    again: dict[str, int] = msgspec.field(default_factory=dict)

    def of(self, tier: str) -> list[str]:
        """Return the runs due in ``tier``."""
        found: list[str] = getattr(self, tier)
        return found


def due_tiers(runs: dict[str, RunInfo], checks: dict[str, int], now_ms: int) -> DueTiers:
    """Return the tiers due for each run whose check came due at ``checks[run id]`` (runs not tracked are skipped)."""
    found = DueTiers()
    for rid, score in checks.items():
        run = runs.get(rid)
        if run is None:
            continue
        limits_ms = [int(run.limits_s[tier] * 1000) for tier in TIERS]
        current = min(range(len(TIERS)), key=lambda k: (abs(run.started_ms + limits_ms[k] - score), k))
        start_ms = score - limits_ms[current]  # the server's clock at the run's start
        due = [k for k in range(current, len(TIERS)) if start_ms + limits_ms[k] <= now_ms] or [current]
        for k in due:
            found.of(TIERS[k]).append(rid)
        later = [start_ms + limits_ms[k] for k in range(due[-1] + 1, len(TIERS)) if start_ms + limits_ms[k] > now_ms]
        if later:
            found.again[rid] = min(later)
    return found
