"""Prometheus metrics of the gateway process (base units; bounded labels)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from actors.registry import REGISTRY


class GatewayMetrics:
    """Counters kept by this gateway; Redis-backed figures are added by collectors."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.tasks_submitted = Counter(
            "taskgate_tasks_submitted_total", "Tasks accepted by POST /v1/tasks.", ["task_name"], registry=self.registry
        )
        for name in REGISTRY:
            self.tasks_submitted.labels(task_name=name)

    def submitted(self, task_name: str) -> None:
        """Count one accepted submit."""
        self.tasks_submitted.labels(task_name=task_name).inc()

    def render(self) -> bytes:
        """Return the text exposition."""
        return generate_latest(self.registry)
