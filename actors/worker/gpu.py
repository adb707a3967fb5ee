"""A stage's GPU lease: taken by the lifecycle for tasks whose registry entry uses the GPU."""

from __future__ import annotations

import contextlib
from typing import Any

import redis
import structlog

from actors.worker.runtime import TaskRun
from config import Settings, keys
from state import Fence

log = structlog.get_logger(__name__)


class GpuSession:
    """Acquire, renew (in the background), fence and release one lease for one stage run."""

    def __init__(self, client: redis.Redis, settings: Settings, run: TaskRun, *, host: str, pid: int) -> None:
        self.client = client
        self.settings = settings
        self.run = run
        self.host = host
        self.pid = pid
        self._stack = contextlib.ExitStack()
        self.lease: Any = None

    @property
    def device(self) -> int | None:
        """Return the leased device index."""
        return None if self.lease is None else int(self.lease.device)

    def acquire(self) -> None:
        """Wait for a lease (first come, first served); renewal runs until ``release``.

        Raises:
            gpu_lock.LockWaitTimeout: the wait exceeded ``gpu_lock.max_wait_time``.
        """
        from gpu_lock import GpuLock, HolderInfo  # noqa: PLC0415  (keeps worker start-up light)

        lock = GpuLock(self.client, self.settings.gpu_lock)
        self._stack.callback(lock.close)  # runs last: after the lease is released and renewal stopped
        owner = HolderInfo(task_id=self.run.workflow_id, task_name=self.run.task_name, host=self.host, pid=self.pid)
        self.lease = self._stack.enter_context(lock.hold(owner, on_lost=self._on_lost))
        log.info("gpu_lease_taken", device=self.lease.device, fencing_token=self.lease.fencing_token)

    def _on_lost(self, lease: Any) -> None:
        log.error("gpu_lease_lost", device=lease.device, fencing_token=lease.fencing_token)
        self.run.stop()

    def fence(self) -> Fence | None:
        """Return the condition a commit of this stage's result must meet."""
        if self.lease is None:
            return None
        return Fence(holders_key=keys.GPU_HOLDERS.format(device=self.lease.device), token=self.lease.token)

    @property
    def lost(self) -> BaseException | None:
        """Return why the lease was lost, or None while it is held."""
        if self.lease is None or not self.lease.lost.is_set():
            return None
        reason: BaseException = self.lease.lost_reason or RuntimeError("the GPU lease was lost")
        return reason

    def record(self, released: bool = False) -> dict[str, Any]:
        """Return the stage record's ``gpu`` field.

        A lease that was lost or ran out before this run let go of it ends when it ended (its expiry by the
        server's clock), with ``lease_lost`` set: a fenced-out holder's record never overlaps the next one's.
        """
        from state.models import iso_ms, now_ms  # noqa: PLC0415

        lease = self.lease
        record: dict[str, Any] = dict(lease.as_record()) if lease is not None else {}
        ran_out = lease is not None and lease.expires_at_ms <= now_ms()
        if released and record.get("released_at") is None:
            record["released_at"] = iso_ms(lease.expires_at_ms if lease is not None and ran_out else now_ms())
        record["lease_lost"] = self.lost is not None or ran_out
        return record

    def release(self) -> None:
        """Stop renewing and release the lease; a lease already lost is left alone and never raises here."""
        from gpu_lock import LeaseLost  # noqa: PLC0415

        try:
            self._stack.close()
        except LeaseLost as exc:
            log.warning("gpu_lease_was_lost", error=str(exc))
