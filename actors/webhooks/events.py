"""Webhook events and their Standard Webhooks signature; what a delivery records in ``callback_status``."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, Literal

import msgspec

from state import StageRecord, Workflow
from state.models import iso_ms

EVENT_TYPES = {"SUCCESS": "task.succeeded", "FAILED": "task.failed", "CANCELLED": "task.cancelled"}
SECRET_PREFIX = "whsec_"  # noqa: S105  (the Standard Webhooks prefix, not a secret)


class WebhookEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The JSON body POSTed to a task's callback URL when one of its stages ends."""

    event_id: str
    type: str
    task_id: str
    task_name: str
    status: Literal["SUCCESS", "FAILED", "CANCELLED"]
    finished_at: str | None
    status_url: str
    output: dict[str, Any] | None = None
    error: dict[str, str] | None = None


class CallbackAttempt(msgspec.Struct, kw_only=True):
    """One POST of an event: when, what came back (status code or error) and how long it took."""

    at: str
    attempt: int
    chain: str
    status_code: int | None = None
    error: str | None = None
    duration_s: float = 0.0


class CallbackStatus(msgspec.Struct, kw_only=True):
    """Delivery state of one stage's event, kept in the workflow hash as ``callback:{task_name}``."""

    event_id: str
    url: str
    state: Literal["pending", "retrying", "delivered", "failed"] = "pending"
    attempts: list[CallbackAttempt] = msgspec.field(default_factory=list)
    next_attempt_at: str | None = None


class Delivery(msgspec.Struct, kw_only=True):
    """The webhook actor's message: which stage end (or, ``kind="batch"``, which batch) to send, which try."""

    workflow_id: str  # the batch id when kind is "batch"
    task_name: str
    status: str
    chain: str = "auto"
    attempt: int = 1
    kind: Literal["stage", "batch"] = "stage"


class BatchEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The JSON body POSTed to a batch's callback URL once every item has ended (``batch.completed``)."""

    event_id: str
    type: Literal["batch.completed"]
    batch_id: str
    task_name: str
    size: int
    counts: dict[str, int]  # items per status: SUCCESS, FAILED, CANCELLED (PENDING and RUNNING are 0 by now)
    created_at: str | None
    completed_at: str | None
    status_url: str
    labels: dict[str, str] = msgspec.field(default_factory=dict)


event_encoder = msgspec.json.Encoder()
status_decoder = msgspec.json.Decoder(CallbackStatus)


def batch_event_id(batch_id: str) -> str:
    """Return the id of a batch's completion event: the same on every retry."""
    digest = hashlib.sha256(("batch\n" + batch_id).encode()).hexdigest()
    return f"evt_{digest[:32]}"


def event_id(workflow_id: str, task_name: str, status: str) -> str:
    """Return the id of a stage end's event: the same on every retry and redelivery."""
    digest = hashlib.sha256(f"{workflow_id}\n{task_name}\n{status}".encode()).hexdigest()
    return f"evt_{digest[:32]}"


def build_event(wf: Workflow, stage: StageRecord, base_url: str) -> WebhookEvent:
    """Render the event of a finished stage (stable bytes: built from the stored record only)."""
    wid = wf.meta.workflow_id
    return WebhookEvent(
        event_id=event_id(wid, stage.task_name, stage.status),
        type=EVENT_TYPES[stage.status],
        task_id=wid,
        task_name=stage.task_name,
        status=stage.status,  # type: ignore[arg-type]
        finished_at=iso_ms(stage.finished_at_ms),
        status_url=f"{base_url.rstrip('/')}/v1/tasks/{wid}",
        output=stage.output if stage.status == "SUCCESS" else None,
        error=msgspec.to_builtins(stage.error) if stage.error else None,
    )


def secret_key(secret: str) -> bytes:
    """Return the HMAC key of a secret: ``whsec_<base64>`` is decoded, anything else is used as text."""
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret[len(SECRET_PREFIX) :])
    return secret.encode()


def sign(secret: str, msg_id: str, timestamp_s: int, body: bytes) -> str:
    """Return the ``webhook-signature`` header: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``."""
    signed = f"{msg_id}.{timestamp_s}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Return whether ``headers`` carry a valid signature of ``body`` (what a receiver does)."""
    try:
        expected = sign(secret, headers["webhook-id"], int(headers["webhook-timestamp"]), body)
    except (KeyError, ValueError):
        return False
    given = headers.get("webhook-signature", "").split()
    return any(hmac.compare_digest(expected, sig) for sig in given)
