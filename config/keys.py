"""Every Redis key and key prefix that taskgate uses, in one place."""

from __future__ import annotations

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
GPU_WAITER_SEQ = "gpu_lock:waiters:seq"
# list: one push wakes the waiter blocked in BLPOP on it.
GPU_WAKE = "gpu_lock:wake:{waiter_id}"
# counter: every grant on any device takes the next value (the fencing token).
GPU_FENCING = "gpu_lock:fencing"
# hash: counters (*_total) and histogram buckets (*_seconds_bucket:<le>, _sum, _count).
GPU_STATS = "gpu_lock:{device}:stats"
GPU_ANY_DEVICE = "any"
# list: JSON record of each force release, newest first, capped.
GPU_FORCE_RELEASES = "gpu_lock:force_releases"

def workflow_state(workflow_id: str) -> str:
    """Return the key of a workflow's state hash."""
    return WORKFLOW_STATE.format(workflow_id=workflow_id)


def task_index_by_name(task_name: str) -> str:
    """Return the key of the per-task-name index."""
    return TASK_INDEX_BY_NAME.format(task_name=task_name)

# Broker wake-up lists: an enqueue pushes a token so an idle consumer wakes at once.
BROKER_WAKE = "taskgate:wake:{queue}"


def broker_wake(queue: str) -> str:
    """Return the wake-up list of a Dramatiq queue."""
    return BROKER_WAKE.format(queue=queue)


def gpu_holders(device: int) -> str:
    """Return the key of a GPU's holders zset (lease token -> expiry ms)."""
    return GPU_HOLDERS.format(device=device)
