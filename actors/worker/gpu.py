"""A stage's GPU lease: taken by the lifecycle for tasks whose registry entry uses the GPU.

The lease asks for the run's declared memory (``actors.gpu_memory.requested_mb``). On a memory-weighted device,
warm models of other engines that sit idle in this process are freed, least recently used first, when the
memory not leased to anyone is too small for them (``WarmModels.make_room``). The run's real footprint is
measured when the run uses CUDA (``actors.worker.footprint``) and lands in the stage's ``gpu`` record.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import redis
import structlog

from actors.gpu_memory import model_of, requested_mb
from actors.spec import TaskSpec
from actors.worker.footprint import Footprint, start_measuring
from actors.worker.runtime import TaskRun
from actors.worker.warm import WARM
from config import Settings, keys
from state import Fence

log = structlog.get_logger(__name__)


class GpuSession:
    """Acquire, renew (in the background), fence and release one lease for one stage run."""

    def __init__(
        self,
        client: redis.Redis,
        settings: Settings,
        run: TaskRun,
        *,
        host: str,
        pid: int,
        spec: TaskSpec | None = None,
        params: Any = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.run = run
        self.host = host
        self.pid = pid
        self.engine = spec.queue if spec is not None else run.task_name.split(".", 1)[0]
        self.model = model_of(spec, settings, params) if spec is not None else None
        self.memory_mb = requested_mb(spec, settings, params) if spec is not None else 0
        self._stack = contextlib.ExitStack()
        self.lease: Any = None
        self.peak: Footprint | None = None

    @property
    def granted_mb(self) -> int | None:
        """Return the MiB the lease granted on a memory-weighted device, else None."""
        return int(self.lease.amount) if self.lease is not None and self.lease.by_memory else None

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
        owner = HolderInfo(
            task_id=self.run.workflow_id,
            task_name=self.run.task_name,
            host=self.host,
            pid=self.pid,
            memory_mb=self.memory_mb,
        )
        self.lease = self._stack.enter_context(lock.hold(owner, on_lost=self._on_lost))
        log.info(
            "gpu_lease_taken",
            device=self.lease.device,
            fencing_token=self.lease.fencing_token,
            memory_mb=self.granted_mb,
        )
        self._count_wait(self.lease.waited_s)
        WARM.lease_started(self.lease.token)
        self._stack.callback(WARM.lease_ended, self.lease.token)
        if self.lease.by_memory:
            WARM.make_room(self.lease.device, self._unleased_mb(lock), keep_engine=self.engine)
        self.peak = start_measuring(self.settings, self.lease.device)

    def _count_wait(self, waited_s: float) -> None:
        from redis.exceptions import RedisError  # noqa: PLC0415

        from gpu_lock.task_figures import record_wait  # noqa: PLC0415

        try:
            record_wait(self.client, self.run.task_name, waited_s)
        except RedisError as exc:  # a figure, never a reason to give the lease back
            log.warning("gpu_wait_not_counted", error=str(exc))

    def _unleased_mb(self, lock: Any) -> int:
        """Return the MiB of the lease's device that no lease holds now (what idle warm models may keep)."""
        from gpu_lock.status import amount_of  # noqa: PLC0415

        now_ms = int(time.time() * 1000)
        tokens = self.client.zrangebyscore(keys.GPU_HOLDERS.format(device=self.lease.device), f"({now_ms}", "+inf")
        held = sum(amount_of(t.decode() if isinstance(t, bytes) else str(t)) for t in tokens)
        return int(lock.layout.capacity[self.lease.device]) - held

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
        record["declared_mb"] = self.memory_mb
        if released and self.peak is not None:
            record |= self.peak.report(self, self.run.task_name)
            self.peak = None
            self._remember(record)
        return record

    def _remember(self, record: dict[str, Any]) -> None:
        """Keep the measured footprint per task type and model (the gateway's metrics and GPUs page read it)."""
        from redis.exceptions import RedisError  # noqa: PLC0415

        from gpu_lock.task_figures import record_footprint  # noqa: PLC0415

        entry = {"declared_mb": self.memory_mb, "measured_mb": record["measured_mb"], "by": record["measured_by"]}
        try:
            record_footprint(self.client, self.run.task_name, self.model, entry)
        except RedisError as exc:
            log.warning("gpu_footprint_not_kept", error=str(exc))

    def release(self) -> None:
        """Stop renewing and release the lease; a lease already lost is left alone and never raises here."""
        from gpu_lock import LeaseLost  # noqa: PLC0415

        try:
            self._stack.close()
        except LeaseLost as exc:
            log.warning("gpu_lease_was_lost", error=str(exc))
