"""What a due check of a run stands for, worked out from the run record.

Every tracked run has one entry in the checks sorted set (``keys.RUN_CHECKS``), scored at when the monitor must
look at it next, on the clock of the run's ``started_ms``: first its heartbeat probe (its worker's heartbeat
timeout after the start, ``RunInfo.probe_s``) when that comes before its first tier, then each tier's deadline
(``started_ms`` plus the tier's limit). Its heartbeat joins the heartbeats sorted set at its sidecar's first
beat, so a run that never beat is found by its probe: dead once the monitor's own heartbeat timeout has passed
since its start, else looked at again then. The tiers due are those whose deadline lies between the score the
check came due at and now (the ones before that score have acted already); the next check is the next deadline.
"""

from __future__ import annotations

import msgspec

from state.tracking import TIERS, RunInfo

# While silence does not count (Redis was away), a run that never beat is looked at again this often.
_AWAY_PROBE_MS = 1000


class DueTiers(msgspec.Struct, kw_only=True):
    """The runs due per tier, those that never beat within the heartbeat timeout, and when to look at each again."""

    hard: list[str] = msgspec.field(default_factory=list)
    soft: list[str] = msgspec.field(default_factory=list)
    warning: list[str] = msgspec.field(default_factory=list)
    dead: list[str] = msgspec.field(default_factory=list)
    again: dict[str, int] = msgspec.field(default_factory=dict)

    def of(self, tier: str) -> list[str]:
        """Return the runs due in ``tier``."""
        found: list[str] = getattr(self, tier)
        return found


def due_tiers(
    runs: dict[str, RunInfo], checks: dict[str, int], beats: dict[str, int], now_ms: int, cutoff_ms: int
) -> DueTiers:
    """Return what each due check stands for (runs not tracked any more are skipped).

    ``checks``: run id -> the score it came due at; ``beats``: run id -> heartbeat ms of those that have beaten;
    ``cutoff_ms``: a heartbeat at or before it is dead (0: silence does not count yet, Redis was away).
    """
    found = DueTiers()
    for rid, score in checks.items():
        run = runs.get(rid)
        if run is None:
            continue
        later = [run.started_ms + int(run.limits_s[tier] * 1000) for tier in TIERS]
        if rid not in beats:  # never beat: dead once a heartbeat timeout has passed since its start
            if cutoff_ms > 0 and run.started_ms <= cutoff_ms:
                found.dead.append(rid)
                continue
            later.append(run.started_ms + (now_ms - cutoff_ms) if cutoff_ms else now_ms + _AWAY_PROBE_MS)
        for tier, deadline in zip(TIERS, later, strict=False):
            if score <= deadline <= now_ms:
                found.of(tier).append(rid)
        if (upcoming := [at for at in later if at > now_ms]) and found.hard[-1:] != [rid]:
            found.again[rid] = min(upcoming)
    return found
