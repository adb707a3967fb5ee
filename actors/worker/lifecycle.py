"""The lifecycle middleware: every stage moves PENDING -> RUNNING -> SUCCESS | FAILED | CANCELLED here.

A thin adapter from Dramatiq's hooks to the worker's collaborators, built once per process around one
``WorkerContext``: ``Starts`` starts a message's stage and returns its ``StageRun`` (which owns the run's
tracking), ``Endings`` writes its end, ``FiguresWriter`` writes the task figures no ending took in time.
"""

from __future__ import annotations

import threading
from typing import Any

import dramatiq
import structlog
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware

from actors.errors import TransientError
from actors.registry import REGISTRY
from actors.worker.broker import WakingRedisBroker
from actors.worker.context import WorkerContext
from actors.worker.endings import Endings
from actors.worker.figures import FiguresWriter
from actors.worker.redelivery import redeliver
from actors.worker.stage_run import StageRun
from actors.worker.starts import Starts, skip
from config import Settings
from redis_io.errors import RedisUnavailable
from redis_io.retry import ride_out
from state import TaskNotFound
from state.models import now_ms

log = structlog.get_logger(__name__)


class Lifecycle(Middleware):  # type: ignore[misc]
    """Move stages through their statuses around each actor call; actor bodies never write status."""

    def __init__(self, settings: Settings) -> None:
        self.context = WorkerContext(settings)
        self.endings = Endings(self.context)
        self.starts = Starts(self.context, self.endings)
        self.figures = FiguresWriter(self.context)
        self._local = threading.local()

    @property
    def active(self) -> StageRun | None:
        """Return the stage this worker thread is running, if any."""
        return getattr(self._local, "active", None)

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        """Start a stage: resolve its input, mark it RUNNING and take a GPU lease if it needs one.

        Redis errors are ridden out for ``redis_grace_s``; after that the message is sent again (delayed)
        rather than lost, and this delivery is skipped.
        """
        spec = REGISTRY.get(message.actor_name)
        if spec is None:
            return
        context = message.args[0]
        structlog.contextvars.bind_contextvars(task_id=context["workflow_id"], task_name=context["task_name"])
        self._local.active = None
        grace_s = self.context.settings.redis_grace_s
        try:
            run = ride_out(lambda: self.starts.begin(broker, message, spec), what="stage_start", limit_s=grace_s)
        except RedisUnavailable as exc:
            redeliver(broker, message, str(exc))
            skip()
        if isinstance(broker, WakingRedisBroker):
            run.delivery = broker.delivery(message)
        self._local.active = run

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        """End a stage: commit its output (fenced on its GPU lease), or record why it failed.

        The ending is retried until Redis takes it; the lease is released, the run untracked and the log
        context unbound whatever happened before.
        """
        run = self.active
        if run is None or message.actor_name not in REGISTRY:
            return
        self._local.active = None
        run.ended_ms = now_ms()  # an ending committed after a Redis outage still says when the work ended
        error = run.error or exception
        lost = run.gpu.lost if run.gpu else None
        if lost is not None and error is not None and not isinstance(error, TransientError):
            error = lost  # the body stopped because its lease ended: the stage fails with why it ended
        # A body that finished goes to its fenced commit even when its lease is known lost here: the fence
        # is the authority (it refuses and the stage fails as lease-lost, or the lease was in fact still held).
        try:
            ride_out(lambda: self.endings.end(broker, message, run, error), what="stage_end")
            if run.acked and isinstance(broker, WakingRedisBroker):
                broker.acked_by_ending(message)
        except TaskNotFound:  # expired, purged, or Redis restarted empty while the stage ran: nothing to end
            log.warning("stage_end_record_gone", reason="the task's record vanished while its stage ran")
        finally:
            try:
                if run.gpu:
                    run.gpu.release()
            finally:
                run.untrack()
                self.context.measure_storage(run.workflow_id)
                structlog.contextvars.unbind_contextvars("task_id", "task_name")

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        """Forget a skipped message's log context."""
        structlog.contextvars.unbind_contextvars("task_id", "task_name")

    def before_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        """Start the thread that writes task figures no ending picked up in time (one long run keeps a batch)."""
        self.figures.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        """Stop the figures thread."""
        self.figures.stop()

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        """Write the task figures still batched (the last endings have run)."""
        self.figures.write(0.0)
