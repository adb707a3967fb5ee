"""``@gpu_lock(lock)``: run a plain (blocking) callable while holding a GPU lease."""

from __future__ import annotations

import functools
import inspect
import uuid
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from gpu_lock.lease import HolderInfo
from gpu_lock.sync_lock import GpuLock

P = ParamSpec("P")
R = TypeVar("R")


def gpu_lock(
    lock: GpuLock,
    *,
    device: int | None = None,
    max_wait_time: float | None = None,
    task_name: str | None = None,
    memory_mb: int = 0,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Wrap a callable so each call holds a lease; inside, ``current_lease()`` names the device.

    Only plain functions: a lease is held around blocking work (asyncio code holds none). ``memory_mb`` is what each
    call asks on memory-weighted devices (required there; slot-counted devices give every call one slot).

    Raises:
        TypeError: at decoration, when the callable is a coroutine function.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        name = task_name or func.__qualname__

        def owner() -> HolderInfo:
            return HolderInfo(task_id=uuid.uuid4().hex, task_name=name, memory_mb=memory_mb)

        if inspect.iscoroutinefunction(func):
            raise TypeError(f"{func.__qualname__} is a coroutine function: hold a lease around blocking work only")

        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with lock.hold(owner(), device=device, max_wait_time=max_wait_time):
                return func(*args, **kwargs)

        return run

    return decorate
