"""Every Redis key and key prefix that taskgate uses, in one place."""

from __future__ import annotations

# stream: live events for every gateway's /v1/events (stage, progress, lease, tier, worker, queue), written by the
# same atomic step as the change each reports; capped near EVENTS_KEPT entries (XADD MAXLEN ~), so a client
# resumes with Last-Event-ID only within that window. gpu_lock/lua/lib.lua spells the cap too.
EVENTS = "taskgate:events"
EVENTS_KEPT = 10000

# stream: the audit log of admin actions (gateway/audit.py), one entry per call, trimmed by age (XADD MINID
# now - audit.retention_s, exact: admin actions are few), so a quiet deployment keeps its history as a busy one does.
AUDIT = "taskgate:audit"

# Workflow state (one hash per workflow; single-task mode: workflow_id == task_id).
WORKFLOW_STATE = "workflow_state:{workflow_id}"
# Recent workflows, score = created_at ms; listing reads this instead of scanning keys.
TASK_INDEX = "taskgate:index:tasks"
TASK_INDEX_BY_NAME = "taskgate:index:task_name:{task_name}"

# Dramatiq's own namespace (RedisBroker default).
DRAMATIQ_NAMESPACE = "dramatiq"

# GPU lease lock (gpu_lock/). {device} is a device index, or "any" for the stats of any-device waits.
GPU_PREFIX = "gpu_lock"
# zset: lease token -> lease expiry ms (server TIME). A lease is valid iff its score exists and is > now ms.
GPU_HOLDERS = "gpu_lock:{device}:holders"
# hash: lease token -> holder JSON (task_id, task_name, host, pid, since_ms, fencing_token,
# lock_deadline_ms, waited_ms).
GPU_HOLDER_INFO = "gpu_lock:{device}:info"
# zset: waiter id -> arrival sequence (FIFO order). An any-device waiter stands in every device's queue.
GPU_WAITERS = "gpu_lock:{device}:waiters"
# zset: waiter id -> ms by which the waiter must try again or count as dead.
GPU_WAITER_DEADLINES = "gpu_lock:waiters:deadlines"
# hash: waiter id -> waiter JSON (task_id, task_name, host, pid, since_ms, device; -1 = any).
GPU_WAITER_INFO = "gpu_lock:waiters:info"
# list: one push wakes the waiter blocked in BLPOP on it (lib.lua spells this prefix too).
GPU_WAKE = "gpu_lock:wake:{waiter_id}"
# counter: every grant on any device takes the next value (the fencing token); queue places too.
GPU_FENCING = "gpu_lock:fencing"
# hash: counters (*_total), histogram buckets (*_seconds_bucket:<le>, le in seconds) and sums (*_ms_sum).
GPU_STATS = "gpu_lock:{device}:stats"
GPU_ANY_DEVICE = "any"
# list: JSON record of each force release, newest first, capped.
GPU_FORCE_RELEASES = "gpu_lock:force_releases"
# hash "task_name|model" -> JSON {declared_mb, measured_mb, by}: the last measured GPU footprint of each
GPU_FOOTPRINTS = "gpu_lock:footprints"
# hash "task_name|bucket:le" / "task_name|ms_sum" -> count / ms: lease waits by task type (workers add)
GPU_TASK_WAITS = "gpu_lock:task_waits"


def workflow_state(workflow_id: str) -> str:
    """Return the key of a workflow's state hash."""
    return WORKFLOW_STATE.format(workflow_id=workflow_id)


def workflow_id_of(state_key: str) -> str:
    """Return the workflow id of a ``workflow_state:{workflow_id}`` key."""
    return state_key.removeprefix(WORKFLOW_STATE.split("{", 1)[0])


# Search facets (GET /v1/tasks, bulk actions): one sorted set per key, tenant and label (workflow id -> ms the
# workflow was created), written when a workflow is created; FACETS notes each facet's last write, so the
# monitor drops a facet whose every entry has expired.
TASK_INDEX_BY_KEY = "taskgate:index:key:{name}"
TASK_INDEX_BY_TENANT = "taskgate:index:tenant:{name}"
TASK_INDEX_BY_LABEL = "taskgate:index:label:{name}={value}"
FACETS = "taskgate:index:facets"


def task_index_by_key(name: str) -> str:
    """Return the index of the workflows an API key created."""
    return TASK_INDEX_BY_KEY.format(name=name)


def task_index_by_tenant(name: str) -> str:
    """Return the index of a tenant's workflows."""
    return TASK_INDEX_BY_TENANT.format(name=name)


def task_index_by_label(name: str, value: str) -> str:
    """Return the index of the workflows labelled ``name: value``."""
    return TASK_INDEX_BY_LABEL.format(name=name, value=value)


def task_index_by_name(task_name: str) -> str:
    """Return the key of the per-task-name index."""
    return TASK_INDEX_BY_NAME.format(task_name=task_name)


# Broker wake-up lists: an enqueue pushes a token so an idle consumer wakes at once.
BROKER_WAKE = "taskgate:wake:{queue}"
BROKER_WAKE_KEPT = 16


def dramatiq_queue(queue: str) -> str:
    """Return the list of message ids of a Dramatiq queue (RedisBroker's layout)."""
    return f"{DRAMATIQ_NAMESPACE}:{queue}"


def dramatiq_messages(queue: str) -> str:
    """Return the hash of message id -> encoded message of a Dramatiq queue."""
    return f"{DRAMATIQ_NAMESPACE}:{queue}.msgs"


def dramatiq_acks(broker_id: str, queue: str) -> str:
    """Return the set of message ids one Dramatiq consumer fetched from ``queue`` and has not acked."""
    return f"{DRAMATIQ_NAMESPACE}:__acks__.{broker_id}.{queue}"


# zset: Dramatiq broker id -> last dispatch ms (Dramatiq's own heartbeats).
DRAMATIQ_HEARTBEATS = f"{DRAMATIQ_NAMESPACE}:__heartbeats__"


def broker_wake(queue: str) -> str:
    """Return the wake-up list of a Dramatiq queue."""
    return BROKER_WAKE.format(queue=queue)


def gpu_holders(device: int) -> str:
    """Return the key of a GPU's holders zset (lease token -> expiry ms)."""
    return GPU_HOLDERS.format(device=device)


# Monitor (monitor/, state/tracking.py). A run is one stage on one worker: run id "{workflow_id}|{task_name}".
# A run's record (JSON: workflow_id, task_name, host, pid, started_ms, attempt, message_id, gpu device/fencing) is
# the field run:{task_name} of its workflow_state hash (run_field), written by the start's script with the stage;
# "" (or no field) once the run is no longer tracked. RUNS is where runs started before that lived (run id ->
# JSON): read as a fallback and emptied as they end.
RUN_FIELD = "run:{task_name}"
RUNS = "taskgate:runs"
# zset: run id -> last heartbeat ms (server TIME); 0 = its process is known to be gone.
RUN_HEARTBEATS = "taskgate:runs:heartbeats"
# zset: run id -> when the monitor must look at its timeout tiers next (server ms): the next tier's deadline. A
# pass reads only the due head; the tier is worked out from the run record's limits (monitor/tiers.py).
RUN_CHECKS = "taskgate:runs:checks"
# list per host: kill orders (JSON: pid, run_id, reason) that host's sidecar executes.
KILL_ORDERS = "taskgate:kill:{host}"
# zset: "{host}:{pid}" of each worker process -> last time its sidecar saw it alive (ms); 0 = seen gone.
WORKERS = "taskgate:workers"
# zset: "{host}:{pid}" of each worker supervisor -> its last heartbeat (server ms); hash: the same members ->
# JSON {queues, engines: {queue: "" when ready, else what is missing}} (state/tracking.py, GET /v1/task-types).
SUPERVISORS = "taskgate:supervisors"
SUPERVISOR_INFO = "taskgate:supervisors:info"
# hash: "{host}:{pid}" -> JSON {broker_id, queues} of each Dramatiq worker process, so the monitor can put
# back what a dead one had fetched and not acked (dramatiq:__acks__.{broker_id}.{queue}).
WORKER_CONSUMERS = "taskgate:workers:consumers"
# zset: run id of each PENDING stage -> ms since it became PENDING (or was last found to have a message).
PENDING_STAGES = "taskgate:stages:pending"
# The latest message sent for a stage, "{queue}\n{redis message id}", is the field message:{task_name} of
# its workflow_state hash (stage_message_field): written by the submit script, the broker's enqueue and the
# hand-over of parked messages; it expires with the record.
STAGE_MESSAGE_FIELD = "message:{task_name}"
# A workflow_state hash's fields: meta, has_callback ("1" when meta has a callback URL: a stage's ending reads
# it instead of decoding meta), latest, and per stage stage:/status:/rev:/hash:/message:/progress:/cancel:/
# waiters:/parked:/callback:/run:/beat:{task_name} (run: its run record, beat: set at the run's first heartbeat).
# string: the monitor leader's token; its PX is the leader lease.
MONITOR_LEADER = "taskgate:monitor:leader"
# hash: monitor counters (tier_events_total:<tier>, recoveries_total:<kind>, passes_total, last_pass_*).
MONITOR_STATS = "taskgate:monitor:stats"
# list: recent tier events and recoveries (JSON), newest first, capped.
MONITOR_EVENTS = "taskgate:monitor:events"
# list: periodic snapshots of the lock statistics (JSON), newest first, capped.
MONITOR_HISTORY = "taskgate:monitor:history"
# hash: task counters and histograms written on stage transitions (finished_total:<task>:<outcome>,
# run_seconds_bucket:<task>:<le>, run_seconds_sum:<task>, ..., queue_wait_seconds_...).
TASK_METRICS = "taskgate:metrics:tasks"
# Dynamic settings: JSON of overrides of the gpu_lock and gpu_lock_monitor sections, and its version.
CONFIG_OVERRIDES = "taskgate:config:overrides"
CONFIG_VERSION = "taskgate:config:version"


def run_field(task_name: str) -> str:
    """Return the field of a workflow's hash that holds the record of the stage's tracked run."""
    return RUN_FIELD.format(task_name=task_name)


def stage_message_field(task_name: str) -> str:
    """Return the field of a workflow's hash that notes the latest message sent for stage ``task_name``."""
    return STAGE_MESSAGE_FIELD.format(task_name=task_name)


def kill_orders(host: str) -> str:
    """Return the kill-order list of one host."""
    return KILL_ORDERS.format(host=host)


# Webhooks (actors/webhooks.py). zset: "workflow_id\ntask_name\nstatus" of each stage end that has a callback
# -> ms at which a dispatcher may (re)claim it; update_stage.lua adds, the dispatcher removes after enqueueing.
WEBHOOK_OUTBOX = "taskgate:webhooks:outbox"
# Field of a workflow_state hash holding one stage's delivery state (CallbackStatus JSON).
CALLBACK_FIELD = "callback:{task_name}"

# Storage retention (state/retention.py). zset: workflow_id -> ms of its last known activity; a workflow
# whose folder workflows/{id}/ may have outlived its record is due once that is older than the retention.
STORAGE_SWEEP = "taskgate:storage:sweep"
# hash: workflow_id -> bytes its folder held when last measured (at each stage end); string: their sum.
STORAGE_BYTES = "taskgate:storage:bytes"
STORAGE_TOTAL = "taskgate:storage:total_bytes"
# Field of a workflow_state hash: bytes of the workflow's folder; and when its files were removed (ms).
STORAGE_BYTES_FIELD = "storage_bytes"
FILES_REMOVED_FIELD = "files_removed_ms"


# string: a named glossary as JSON (gateway PUT/GET/DELETE /v1/glossaries/{name}; llm.translate_subtitles
# reads it by `glossary_name`). set: the stored names, so GET /v1/glossaries lists them without scanning.
# hash: pipeline name -> its definition as JSON (checked when kept; built-ins are not stored)
PIPELINES = "taskgate:pipelines"
GLOSSARY = "taskgate:glossary:{name}"
GLOSSARY_NAMES = "taskgate:glossaries"


def glossary(name: str) -> str:
    """Return the key of a named glossary."""
    return GLOSSARY.format(name=name)


# Batches (state/batches.py). hash per batch: meta (JSON), size, task_name, has_callback, created_at_ms,
# items_created, ended, n:{status} (items per status), i:{index} ("{rev} {status}" of an item seen to move;
# an item without one is PENDING at rev 1), completed_at_ms, cancel_requested_at_ms, callback_status (JSON).
# Item i of batch B is the workflow "B-i".
BATCH = "taskgate:batch:{batch_id}"
# zset: batch id -> created ms (GET /v1/batches lists from it).
BATCH_INDEX = "taskgate:index:batches"
# set: ids of batches not yet complete (the completion watcher counts only their items' events).
BATCHES_ACTIVE = "taskgate:batches:active"
# string: the id in taskgate:events up to which the completion watcher has counted.
BATCHES_CURSOR = "taskgate:batches:cursor"
# A batch's entry in the webhook outbox: this prefix + batch id ('@' starts no workflow id).
BATCH_OUTBOX_PREFIX = "@batch\n"


def batch(batch_id: str) -> str:
    """Return the key of a batch's hash."""
    return BATCH.format(batch_id=batch_id)


def batch_item_id(batch_id: str, index: int) -> str:
    """Return the workflow id of a batch's item ``index``."""
    return f"{batch_id}-{index}"


# Later start (state/schedule.py). zset: run id of each SCHEDULED stage -> its run_at ms; the scheduler moves
# the due ones to PENDING and queues the message the submit kept in the field scheduled:{task_name} of the
# workflow's hash (queue, task_name, redis message id, encoded message; tab-separated).
SCHEDULED_STAGES = "taskgate:stages:scheduled"
SCHEDULED_FIELD = "scheduled:{task_name}"

# Limits per API key (state/limits.py). hash: key name -> limits JSON set at run time (PUT /v1/keys/{name}/limits),
# read by the submit script before the settings file's. zsets per key (and per key and task_name): run ids of
# its queued (SCHEDULED or PENDING) and running stages -> ms they entered that state, kept by the stage
# transitions; and its recent submits -> ms (the per-minute window).
KEY_LIMITS = "taskgate:keys:limits"
KEY_COUNT = "taskgate:limits:{key}:{what}"
KEY_TASK_COUNT = "taskgate:limits:{key}:task:{task_name}:{what}"


def scheduled_field(task_name: str) -> str:
    """Return the field of a workflow's hash that keeps a SCHEDULED stage's message until its time."""
    return SCHEDULED_FIELD.format(task_name=task_name)


def key_count(key: str, what: str, task_name: str | None = None) -> str:
    """Return the zset of an API key's ``queued``, ``running`` or ``submits`` (overall, or for one task_name)."""
    if task_name is None:
        return KEY_COUNT.format(key=key, what=what)
    return KEY_TASK_COUNT.format(key=key, task_name=task_name, what=what)


# Priority lanes (actors/worker/lua/fetch.lua, state/lua/create_stage.lua). Per queue and priority band:
# a list of message ids per client (tenant, else key name), a rotation list of the clients with work (a client
# is in it iff its lane is not empty), a hash client -> messages taken in its current turn, and a zset
# "client\tmessage id" -> enqueue ms (the band's queued count and its oldest, for aging). The fetch script
# builds a lane's key from LANE_PREFIX: one Redis, not a cluster (the queue's other keys live there too).
LANE = "taskgate:lane:{queue}:{priority}:{client}"
LANE_ROTATION = "taskgate:lanes:{queue}:{priority}"
LANE_TURNS = "taskgate:lanes:{queue}:{priority}:turns"
LANE_AGES = "taskgate:lanes:{queue}:{priority}:ages"
# list per queue: one token per message waiting in its lanes (pushed by the submit, popped by the take), so a
# list-length autoscaler (KEDA's redis scaler, deploy/kubernetes) sees the lanes' backlog
LANES_QUEUED = "taskgate:lanes:{queue}:queued"
# hash: client -> weight (its turns take this many messages), written by each submit from the key's settings
CLIENT_WEIGHTS = "taskgate:clients:weights"
# hash: queue -> JSON {at_ms, by} of each paused queue (nothing is taken from it)
PAUSED_QUEUES = "taskgate:queues:paused"
# hash: host -> JSON {at_ms, by} of each drained worker host (its consumers take nothing new)
DRAINED_HOSTS = "taskgate:workers:drained"


def lane_prefix(queue: str, priority: str) -> str:
    """Return the prefix of a band's per-client lanes; the client's name follows it."""
    return LANE.format(queue=queue, priority=priority, client="")


def lane(queue: str, priority: str, client: str) -> str:
    """Return one client's lane (list of message ids) in a queue's priority band."""
    return LANE.format(queue=queue, priority=priority, client=client)


def lanes_queued(queue: str) -> str:
    """Return the list of one token per message waiting in a queue's lanes."""
    return LANES_QUEUED.format(queue=queue)


def lane_keys(queue: str, priority: str) -> tuple[str, str, str]:
    """Return a band's rotation list, turns hash and ages zset."""
    return (
        LANE_ROTATION.format(queue=queue, priority=priority),
        LANE_TURNS.format(queue=queue, priority=priority),
        LANE_AGES.format(queue=queue, priority=priority),
    )
