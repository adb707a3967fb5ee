"""Engines kept warm in a worker process: loaded once per key, shared by the tasks that follow."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class WarmCache(Generic[K, V]):
    """Loaded models by key; concurrent first uses of a key load it once, other keys load in parallel."""

    def __init__(self) -> None:
        self._values: dict[K, V] = {}
        self._locks: dict[K, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: K, load: Callable[[K], V]) -> tuple[V, bool]:
        """Return ``(value, loaded_now)``: the cached value, or ``load(key)`` run now (its errors propagate)."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._values:
                return self._values[key], False
            value = load(key)
            self._values[key] = value
            return value, True

    def clear(self) -> None:
        """Forget every loaded value (memory is freed once no task holds them)."""
        with self._guard:
            self._values.clear()
