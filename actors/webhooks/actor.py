"""The webhook actor: POST a signed event, record every attempt, retry network errors, 5xx and 429."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import dramatiq
import msgspec
import redis.asyncio as aioredis
import structlog

from actors.webhooks.events import (
    BatchEvent,
    CallbackAttempt,
    CallbackStatus,
    Delivery,
    batch_event_id,
    build_event,
    event_encoder,
    event_id,
    sign,
    status_decoder,
)
from actors.webhooks.netpolicy import NetPolicy, UrlRefused, policy_connector
from actors.webhooks.outbox import WEBHOOK_ACTOR, WEBHOOK_QUEUE, delivery_message
from config import ConfigError, Settings
from config.webhook_secret import webhook_secret
from redis_io.clients import async_client
from state import StateStore, TaskNotFound, Workflow, is_terminal
from state.batches import BatchRecord, BatchStore
from state.models import iso_ms, now_ms
from state.storage import public_message

log = structlog.get_logger(__name__)

_MAX_RETRY_AFTER_S = 3600.0
_RESPONSE_READ_BYTES = 64 * 1024
_USER_AGENT = "taskgate-webhooks/1"
# What a delivery sends: the URL, its delivery state so far, the body, and how to store the new state.
_Target = tuple[str, CallbackStatus, bytes, Callable[[bytes], Awaitable[None]]]


@dataclass(frozen=True)
class Outcome:
    """What one POST came back with."""

    status_code: int | None = None
    error: str | None = None
    retry_after_s: float | None = None

    @property
    def delivered(self) -> bool:
        """Return whether the receiver accepted the event (2xx)."""
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        """Return whether another try may succeed: network errors, 5xx and 429; never other 4xx."""
        if self.status_code is None:
            return self.error is not None and not self.error.startswith("refused")
        return self.status_code >= 500 or self.status_code == 429


def public_base_url(settings: Settings) -> str:
    """Return the gateway URL that events link to (``webhooks.public_url``, else the bound address)."""
    if settings.webhooks.public_url:
        return settings.webhooks.public_url
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
    return f"http://{'[' + host + ']' if ':' in host else host}:{settings.port}"


async def post_event(url: str, body: bytes, headers: dict[str, str], timeout_s: float, policy: NetPolicy) -> Outcome:
    """POST ``body`` once, under the network policy, without following redirects."""
    import aiohttp  # noqa: PLC0415  (workers that never send webhooks do not pay for the client)

    try:
        policy.check_url(url)
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with (
            aiohttp.ClientSession(connector=policy_connector(policy), timeout=timeout) as session,
            session.post(url, data=body, headers=headers, allow_redirects=False) as resp,
        ):
            await resp.content.read(_RESPONSE_READ_BYTES)
            return Outcome(status_code=resp.status, retry_after_s=_retry_after(resp.headers.get("Retry-After")))
    except UrlRefused as exc:
        return Outcome(error=f"refused: {exc}")
    except TimeoutError:
        return Outcome(error=f"timeout after {timeout_s} s")
    except (aiohttp.ClientError, OSError) as exc:
        return Outcome(error=public_message(f"{type(exc).__name__}: {exc}"))  # shown in callback_status


def _retry_after(value: str | None) -> float | None:
    if value is None or not value.strip().isdigit():
        return None
    return min(float(value.strip()), _MAX_RETRY_AFTER_S)


class WebhookSender:
    """Per worker process: the store, the policy and the broker used to schedule retries."""

    def __init__(self, settings: Settings, broker: dramatiq.Broker) -> None:
        self.settings = settings
        self.broker = broker
        self.policy = NetPolicy(settings.network_policy)
        self._store: StateStore | None = None
        self._secret: str | None = None
        self._secret_read = False

    @property
    def store(self) -> StateStore:
        """Return the store, created on the event loop that runs this process's async actors."""
        if self._store is None:
            self._store = StateStore(async_client(self.settings), self.settings.state_ttl_s)
        return self._store

    async def deliver(self, data: dict[str, Any]) -> None:
        """Send one try of a delivery; never raises (the outcome goes to ``callback_status``)."""
        job = msgspec.convert(data, Delivery)
        structlog.contextvars.bind_contextvars(task_id=job.workflow_id, task_name=job.task_name)
        try:
            await self._deliver(job)
        except (TaskNotFound, aioredis.RedisError, OSError, ConfigError) as exc:
            log.warning("webhook_not_sent", error=str(exc), chain=job.chain, attempt=job.attempt)
        finally:
            structlog.contextvars.unbind_contextvars("task_id", "task_name")

    async def _deliver(self, job: Delivery) -> None:
        target = await (self._batch_target(job) if job.kind == "batch" else self._stage_target(job))
        if target is None:
            return
        url, status, body, save = target
        if any(a.chain == job.chain and a.attempt >= job.attempt for a in status.attempts):
            log.info("webhook_duplicate_skipped", chain=job.chain, attempt=job.attempt)
            return
        started = time.monotonic()
        headers = self._headers(status.event_id, body)
        outcome = await post_event(url, body, headers, self.settings.webhooks.timeout_s, self.policy)
        attempt = CallbackAttempt(
            at=iso_ms(now_ms()) or "",
            attempt=job.attempt,
            chain=job.chain,
            status_code=outcome.status_code,
            error=outcome.error,
            duration_s=round(time.monotonic() - started, 3),
        )
        delay_s = self._next_delay(job, outcome)
        _record(status, attempt, outcome, delay_s)
        await save(event_encoder.encode(status))
        await self._follow_up(job, urlsplit(url).hostname, outcome, delay_s)

    async def _stage_target(self, job: Delivery) -> _Target | None:
        wf = await self.store.get(job.workflow_id)
        stage = wf.stages.get(job.task_name)
        url = wf.meta.callback
        if stage is None or url is None or not is_terminal(stage.status):
            log.warning("webhook_not_sent", reason="no finished stage with a callback")
            return None
        body = event_encoder.encode(build_event(wf, stage, public_base_url(self.settings)))

        async def save(status_json: bytes) -> None:
            await self.store.set_callback_status(job.workflow_id, job.task_name, status_json)

        return url, self._status(wf, job, url), body, save

    async def _batch_target(self, job: Delivery) -> _Target | None:
        batches = BatchStore(self.store.client, self.settings.state_ttl_s)
        record = await batches.get(job.workflow_id)
        url = record.meta.callback
        if url is None or not record.complete:
            log.warning("webhook_not_sent", reason="no complete batch with a callback")
            return None
        body = event_encoder.encode(batch_event(record, public_base_url(self.settings)))
        if record.callback_status is not None:
            status = msgspec.convert(record.callback_status, CallbackStatus)
            status.url = url
        else:
            status = CallbackStatus(event_id=batch_event_id(job.workflow_id), url=url)

        async def save(status_json: bytes) -> None:
            await batches.set_callback_status(job.workflow_id, status_json)

        return url, status, body, save

    async def _follow_up(self, job: Delivery, host: str | None, outcome: Outcome, delay_s: float | None) -> None:
        fields = {"host": host, "status_code": outcome.status_code, "attempt": job.attempt, "chain": job.chain}
        if outcome.delivered:
            log.info("webhook_delivered", **fields)
        elif delay_s is None:
            log.warning("webhook_failed", error=outcome.error, **fields)
        else:
            retry = msgspec.structs.replace(job, attempt=job.attempt + 1)
            await asyncio.to_thread(self.broker.enqueue, delivery_message(retry), delay=int(delay_s * 1000))
            log.warning("webhook_retry_scheduled", error=outcome.error, delay_s=round(delay_s, 3), **fields)

    def _status(self, wf: Workflow, job: Delivery, url: str) -> CallbackStatus:
        raw = wf.callbacks.get(job.task_name)
        if raw is not None:
            status = status_decoder.decode(msgspec.json.encode(raw))
            status.url = url
            return status
        return CallbackStatus(event_id=event_id(job.workflow_id, job.task_name, job.status), url=url)

    def _headers(self, msg_id: str, body: bytes) -> dict[str, str]:
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": _USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
        }
        if not self._secret_read:  # read once, on the first delivery: the engine pools never need it
            self._secret = webhook_secret(self.settings, create=True)
            self._secret_read = True
            if self._secret is None:
                log.warning("webhook_unsigned", reason="webhooks.unsigned is set")
        if self._secret:
            headers["webhook-signature"] = sign(self._secret, msg_id, timestamp, body)
        return headers

    def _next_delay(self, job: Delivery, outcome: Outcome) -> float | None:
        schedule = self.settings.webhooks.retry_delays_s
        if outcome.delivered or not outcome.retryable or job.attempt > len(schedule):
            return None
        jitter = self.settings.webhooks.jitter
        delay = schedule[job.attempt - 1] * random.uniform(1 - jitter, 1 + jitter)
        return max(delay, outcome.retry_after_s or 0.0)


def batch_event(record: BatchRecord, base_url: str) -> BatchEvent:
    """Render a complete batch's event (from the stored record only: the same bytes on every try)."""
    meta = record.meta
    return BatchEvent(
        event_id=batch_event_id(meta.batch_id),
        type="batch.completed",
        batch_id=meta.batch_id,
        task_name=meta.task_name,
        size=meta.size,
        counts=record.counts,
        created_at=iso_ms(meta.created_at_ms),
        completed_at=iso_ms(record.completed_at_ms),
        status_url=f"{base_url.rstrip('/')}/v1/batches/{meta.batch_id}",
        labels=meta.labels,
    )


def _record(status: CallbackStatus, attempt: CallbackAttempt, outcome: Outcome, delay_s: float | None) -> None:
    """Add an attempt to the delivery state and set what comes next."""
    status.attempts.append(attempt)
    status.next_attempt_at = None
    if outcome.delivered:
        status.state = "delivered"
    elif delay_s is None:
        status.state = "failed"
    else:
        status.state = "retrying"
        status.next_attempt_at = iso_ms(now_ms() + int(delay_s * 1000))


def declare_webhook_actor(broker: dramatiq.Broker, settings: Settings) -> dramatiq.Actor[Any, Any]:
    """Declare the webhook actor on ``broker`` (its own queue; no GPU lease, no lifecycle)."""
    sender = WebhookSender(settings, broker)

    async def taskgate_webhook(data: dict[str, Any]) -> None:
        await sender.deliver(data)

    return dramatiq.Actor(
        taskgate_webhook, broker=broker, actor_name=WEBHOOK_ACTOR, queue_name=WEBHOOK_QUEUE, priority=0, options={}
    )


__all__ = ["WEBHOOK_ACTOR", "WEBHOOK_QUEUE", "Outcome", "WebhookSender", "declare_webhook_actor", "post_event"]
