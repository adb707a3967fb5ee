"""``@gpu_lock(lock)``: run a sync or async callable while holding a GPU lease."""

from __future__ import annotations

import functools
import inspect
import uuid
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

from gpu_lock.async_lock import AsyncGpuLock
from gpu_lock.lease import HolderInfo
from gpu_lock.sync_lock import GpuLock

P = ParamSpec("P")
R = TypeVar("R")


def gpu_lock(
    lock: GpuLock | AsyncGpuLock,
    *,
    device: int | None = None,
    max_wait_time: float | None = None,
    task_name: str | None = None,
    memory_mb: int = 0,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Wrap a callable so each call holds a lease; inside, ``current_lease()`` names the device.

    Coroutine functions need an ``AsyncGpuLock``, plain functions a ``GpuLock``. ``memory_mb`` is what each
    call asks on memory-weighted devices (required there; slot-counted devices give every call one slot).

    Raises:
        TypeError: at decoration, when the lock does not fit the callable.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        name = task_name or func.__qualname__

        def owner() -> HolderInfo:
            return HolderInfo(task_id=uuid.uuid4().hex, task_name=name, memory_mb=memory_mb)

        if inspect.iscoroutinefunction(func):
            if not isinstance(lock, AsyncGpuLock):
                raise TypeError(f"{func.__qualname__} is a coroutine function: it needs an AsyncGpuLock")
            async_lock = lock

            @functools.wraps(func)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                async with async_lock.hold(owner(), device=device, max_wait_time=max_wait_time):
                    return await cast(Callable[P, Any], func)(*args, **kwargs)

            return cast(Callable[P, R], run_async)
        if not isinstance(lock, GpuLock):
            raise TypeError(f"{func.__qualname__} is a plain function: it needs a GpuLock")
        sync_lock = lock

        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with sync_lock.hold(owner(), device=device, max_wait_time=max_wait_time):
                return func(*args, **kwargs)

        return run

    return decorate
