"""``dramatiq taskgate.pool_entry:setup``: a worker process that dies with its Dramatiq main process.

Dramatiq's main process stops its worker processes on SIGTERM, but when it is killed outright they
would keep consuming with no parent; the parent-death signal makes the kernel kill them with it.
"""

from __future__ import annotations

import multiprocessing
import signal

from actors.worker.app import setup as _setup
from taskgate.lifetime import die_with_parent


def setup() -> None:
    """Tie this worker process to its Dramatiq main process, then boot the broker and actors.

    Its host's sidecar heartbeats it: it lists itself among the worker processes as it registers.
    """
    parent = multiprocessing.parent_process()
    die_with_parent(signal.SIGKILL, parent.pid if parent is not None else None)
    _setup(heartbeated=True)
