"""Build the broker, declare one Dramatiq actor per registered task, and boot workers."""

from __future__ import annotations

from typing import Any

import dramatiq
import msgspec
import structlog
from dramatiq.middleware import AsyncIO

import actors.registry  # noqa: F401  (registers every task)
from actors.errors import TaskError
from actors.registry import REGISTRY, TaskSpec, check_task_names
from actors.webhooks.actor import declare_webhook_actor
from actors.worker.broker import WakingRedisBroker
from actors.worker.consumers import ConsumerRegistry
from actors.worker.gpu_devices import detected_memory, with_memory
from actors.worker.lifecycle import Lifecycle
from config import ConfigError, Settings, configure_logging, load_settings
from redis_io.clients import sync_client

log = structlog.get_logger(__name__)


def _actor_fn(spec: TaskSpec, lifecycle: Lifecycle) -> Any:
    """Return the actor function for ``spec``: it runs the stage on the task context it is given.

    ``run_stage`` is the design's standard interface (context in, updated context out); the lifecycle
    middleware commits what it produced.
    """

    def run_stage(context: dict[str, Any]) -> dict[str, Any]:
        active = lifecycle.active
        if active is None or active.task is None:  # called outside a worker (a direct call in a shell)
            raise RuntimeError(f"{spec.name} runs only inside a taskgate worker")
        try:
            output = spec.body(active.task, active.params)
        except TaskError as exc:
            active.error = exc
        except Exception as exc:
            log.exception("stage_crashed")
            active.error = exc
        else:
            active.output = msgspec.to_builtins(output)
            return {**context, "status": "SUCCESS", "output": active.output}
        return {**context, "status": "FAILED", "error": str(active.error)}

    def perform(context: dict[str, Any]) -> None:
        # The lifecycle commits the updated context; returning it to Dramatiq would only make it warn
        # (once per message) that no results backend stores it.
        run_stage(context)

    perform.__name__ = perform.__qualname__ = spec.name.replace(".", "_")
    return perform


def gpu_queues(settings: Settings) -> frozenset[str]:
    """Return the queues whose every task takes a GPU lease under ``settings`` (their workers prefetch one)."""
    by_queue: dict[str, list[bool]] = {}
    for spec in REGISTRY.values():
        by_queue.setdefault(spec.queue, []).append(spec.uses_gpu(settings))
    return frozenset(queue for queue, uses in by_queue.items() if all(uses))


def build_broker(settings: Settings, *, heartbeated: bool = False) -> tuple[WakingRedisBroker, Lifecycle]:
    """Create the broker with taskgate's middleware and declare every registered actor.

    ``heartbeated``: a worker process of ``taskgate worker``, whose host's sidecar heartbeats it (it is
    listed among the worker processes as it registers, so it is recovered even if killed before a beat).

    Raises:
        ConfigError: per-task settings name a task that does not exist.
    """
    check_task_names(settings)
    lifecycle = Lifecycle(settings)
    broker = WakingRedisBroker(  # type: ignore[no-untyped-call]
        client=sync_client(settings),
        middleware=[AsyncIO(), lifecycle, ConsumerRegistry(listed=heartbeated)],
        heartbeat_timeout=int(settings.broker_heartbeat_timeout_s * 1000),
        maintenance_chance=settings.broker_maintenance_chance,
    )
    for spec in REGISTRY.values():
        dramatiq.Actor(
            _actor_fn(spec, lifecycle),
            broker=broker,
            actor_name=spec.name,
            queue_name=spec.queue,
            priority=0,
            options={},
        )
    broker.record_ttl_ms = settings.state_ttl_s * 1000
    broker.aging_ms = int(settings.queueing.aging_s * 1000)
    broker.lanes = settings.queueing.priorities
    broker.gpu_queues = gpu_queues(settings)
    declare_webhook_actor(broker, settings)
    dramatiq.set_broker(broker)
    return broker, lifecycle


def setup(*, heartbeated: bool = False) -> None:
    """Entry point for ``dramatiq actors.worker.app:setup``: settings, logging, broker and actors.

    ``heartbeated``: this process runs under ``taskgate worker``, whose sidecar heartbeats it.
    """
    try:
        settings = load_settings()
        check_task_names(settings)
    except ConfigError as exc:
        raise SystemExit(f"taskgate: {exc}") from None
    if not settings.redis_configured:
        raise SystemExit(
            "neither TASKGATE_REDIS_URL nor TASKGATE_REDIS_SENTINELS is set: workers need the Redis the gateway uses"
        )
    configure_logging(settings.log_format, settings.log_level)
    if settings.gpu_lock.detect_memory:
        settings = with_memory(settings, detected_memory())
    build_broker(settings, heartbeated=heartbeated)
