"""Worker side of the monitor: record which process runs which stage, with its tier deadlines.

A run (``actors.worker.stage_run``) builds its record with ``run_info`` when its stage starts (the start's
script tracks it; the run is then noted for the host's sidecar in ``local``, ``actors.worker.local_runs``),
notes its lease with ``note_gpu``, and is forgotten by its ending's script or ``SyncTracker.end`` (and its
local note removed). Heartbeats do not come from here: a thread in this
process stops when C code holds the GIL, so the host's sidecar (``actors.worker.sidecar``, run by
``taskgate worker``) heartbeats every tracked run whose process is alive and executes kill orders.
"""

from __future__ import annotations

import structlog
from redis.exceptions import RedisError

from actors.worker.local_runs import LocalRuns
from config import Settings
from state import StageRecord
from state.changes import REDELIVERED_EVENT, REPLAYED_EVENT, REQUEUED_EVENT
from state.tracking import RunInfo, SyncTracker, limits_for

log = structlog.get_logger(__name__)


def superseded(stage: StageRecord, message_id: str) -> bool:
    """Return whether the monitor (or a replay) re-queued or re-sent this stage under another message (stale)."""
    requeues = [e for e in stage.events if e.get("type") in (REQUEUED_EVENT, REDELIVERED_EVENT, REPLAYED_EVENT)]
    return bool(requeues) and requeues[-1].get("message_id") != message_id


class RunTracking:
    """Track runs in Redis for the monitor; failures are logged, never fatal to the stage."""

    def __init__(self, tracker: SyncTracker, host: str, pid: int, local: LocalRuns | None = None) -> None:
        self.tracker = tracker
        self.host = host
        self.pid = pid
        self.local = local if local is not None else LocalRuns.from_env()  # what the host's sidecar heartbeats

    def run_info(
        self, stage: StageRecord, workflow_id: str, settings: Settings, message_id: str, config_version: int
    ) -> RunInfo:
        """Return the record that tracks a started stage on this host and process."""
        return RunInfo(
            workflow_id=workflow_id,
            task_name=stage.task_name,
            host=self.host,
            pid=self.pid,
            started_ms=stage.started_at_ms or 0,
            attempt=stage.attempts,
            message_id=message_id,
            config_version=config_version,
            limits_s=limits_for(settings, stage.task_name),
            probe_s=settings.gpu_lock_monitor.heartbeat.timeout,
        )

    def note_gpu(self, info: RunInfo | None, device: int | None, fencing_token: int | None) -> None:
        """Record the run's GPU lease, so a recovery can force-release it by its fencing token."""
        if info is None:
            return
        info.gpu_device, info.fencing_token = device, fencing_token
        try:
            self.tracker.note_gpu(info)
        except RedisError as exc:
            log.warning("run_gpu_not_tracked", error=str(exc))
