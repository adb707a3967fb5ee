"""Everything a stage's status change entails, listed and queued in one place.

"What does ending a stage write?" has its answer here. A named change (``state.changes``) decides the new
record; the stores commit it with ``update_stage.lua`` together with the effects this module queues
(``state.effects.Effects``), in one atomic step, only when the compare-and-set succeeds.

Done by the compare-and-set script itself, on every committed change:

1. the record, its ``status:`` field and revision; the workflow's TTL refreshed (an ending's, state/records.py);
2. a ``stage`` event on the live events stream (``taskgate:events``);
3. on an end (a status other than RUNNING and PENDING): the progress and heartbeat flag fields dropped, the
   ending added to the webhook outbox when the workflow has a callback, and the waiters parked on the stage
   reported, which the store then hands over to their queues (``hand_over.lua``).

Queued here by ``queue_transition``, from the old and the new record:

4. task figures: the queue wait on PENDING -> RUNNING, the finished count and the run time on an end
   (into a worker's batch, ``state.counter_batch``, when it passes one);
5. run tracking: a run leaving RUNNING is forgotten (``tracking.queue_forget_run``: everything the monitor reads;
   the worker drops its local note for the sidecar, ``actors.worker.local_runs``, once the change committed);
6. indexes: the PENDING index, the per-API-key queued/running counts, the schedule index.

Queued here from what only the caller knows (``Companions``):

7. a worker's start tracks its run (``tracking.queue_start``: record, timeout check);
8. a worker's ending that holds its message's delivery acks the message when the stage ends;
9. a scheduler's release queues the stage's kept message.

Two other scripts write a status, each doing its own part of the list: ``create_stage.lua`` (a new stage,
PENDING or SCHEDULED: record, event, indexes, its message) and ``replay_stages.lua`` (``changes.replay``,
FAILED or CANCELLED -> PENDING: record, event, the PENDING index, its new message).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from config import keys
from state.limits import queue_key_counts
from state.models import StageRecord
from state.task_metrics import queue_observe
from state.tracking import RunInfo, queue_forget_run, queue_pending, queue_start, run_id
from state.transitions import Status, is_terminal


class Delivery(Protocol):
    """A fetched Dramatiq message as its ack needs it (``actors.worker.broker.Delivery``)."""

    @property
    def redis_message_id(self) -> str:
        """The message's id in its queue's hash and the consumer's ack set."""

    @property
    def acks_key(self) -> str:
        """The consuming worker's ack set."""

    @property
    def messages_key(self) -> str:
        """The queue's messages hash."""


@dataclass
class Companions:
    """What a caller adds to a change that the records do not say (all optional).

    ``track`` builds the run a worker's start tracks, from the new record; ``tracked`` is the run the
    change's stage runs as on this worker; ``delivery`` is the
    message a worker's ending acks when the stage ends; ``released`` the kept message a release queues.
    """

    track: Callable[[StageRecord], RunInfo] | None = None
    tracked: RunInfo | None = None
    delivery: Delivery | None = None
    released: tuple[str, bytes] | None = None  # (workflow_id, the message entry ``state.schedule`` kept)

    def __call__(self, effects: Any, new: StageRecord) -> None:
        """Queue these as effects of the change to ``new`` (the stores' ``also`` hook)."""
        if self.track is not None and new.status == Status.RUNNING:
            self.tracked = self.track(new)
            queue_start(effects, self.tracked)
        if self.delivery is not None and is_terminal(new.status):
            # Dramatiq's ack (dispatch.lua "ack"): the message leaves the consumer's ack set and the queue's hash
            effects.srem(self.delivery.acks_key, self.delivery.redis_message_id)
            effects.hdel(self.delivery.messages_key, self.delivery.redis_message_id)
        if self.released is not None and new.status == Status.PENDING:
            queue_message(effects, *self.released)


def queue_transition(pipe: Any, workflow_id: str, old: StageRecord, new: StageRecord, metrics: Any = None) -> None:
    """Queue the bookkeeping of a status change (points 4 to 6 above) on ``pipe`` (effects or a pipeline).

    The task figures go to ``metrics`` when given (a worker's ``counter_batch.Increments``), else to ``pipe``.
    """
    if old.status == new.status:
        return
    rid = run_id(workflow_id, new.task_name)
    figures = pipe if metrics is None else metrics
    if old.status == Status.PENDING and new.status == Status.RUNNING and new.started_at_ms:
        since = old.updated_at_ms or old.created_at_ms
        queue_observe(figures, "queue_wait_seconds", new.task_name, (new.started_at_ms - since) / 1000)
    if old.status == Status.RUNNING:
        queue_forget_run(pipe, rid)
    if (old.status == Status.PENDING) != (new.status == Status.PENDING):
        queue_pending(pipe, rid, pending=new.status == Status.PENDING)
    queue_key_counts(pipe, rid, old, new)
    if old.status == Status.SCHEDULED:
        queue_unschedule(pipe, workflow_id, new.task_name)
    if is_terminal(new.status) and not is_terminal(old.status):
        figures.hincrby(keys.TASK_METRICS, f"finished_total:{new.task_name}:{new.status.lower()}", 1)
        if new.started_at_ms and new.finished_at_ms:
            queue_observe(figures, "run_seconds", new.task_name, (new.finished_at_ms - new.started_at_ms) / 1000)


def queue_unschedule(effects: Any, workflow_id: str, task_name: str) -> None:
    """Drop a stage leaving SCHEDULED from the set, and its kept message (as effects of the move)."""
    effects.zrem(keys.SCHEDULED_STAGES, run_id(workflow_id, task_name))
    effects.hdel(keys.workflow_state(workflow_id), keys.scheduled_field(task_name))


def queue_message(effects: Any, workflow_id: str, entry: bytes) -> None:
    """Queue a kept message as RedisBroker's enqueue would, with a wake-up token (as effects of the release)."""
    queue, task_name, message_id, payload = entry.split(b"\t", 3)
    name = queue.decode()
    effects.hset(keys.dramatiq_messages(name), message_id.decode(), payload)
    effects.rpush(keys.dramatiq_queue(name), message_id.decode())
    effects.lpush(keys.broker_wake(name), 1)
    effects.ltrim(keys.broker_wake(name), 0, keys.BROKER_WAKE_KEPT - 1)
    note = b"%s\n%s" % (queue, message_id)
    effects.hset(keys.workflow_state(workflow_id), keys.stage_message_field(task_name.decode()), note)
