"""Keep engine models warm in a worker process: one mechanism for every engine.

An engine names its models by a key that holds what makes two loads differ (the model, the device and
the precision, plus anything else its loader reads); the first use of a key loads it, concurrent first
uses wait for that one load, and later uses get the same object. Engines whose loaded model is not safe
to run from two threads at once take ``run_lock`` around each run.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import structlog

T = TypeVar("T")
log = structlog.get_logger(__name__)


class WarmModels:
    """Models loaded in this process, one per ``(engine, key)``."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, Hashable], Any] = {}
        self._load_locks: dict[tuple[str, Hashable], threading.Lock] = {}
        self._run_locks: dict[tuple[str, Hashable], threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, engine: str, key: Hashable, load: Callable[[], T]) -> tuple[T, bool]:
        """Return ``(model, loaded_now)``: the warm model under ``key``, or the one ``load()`` returns now.

        Whatever ``load`` raises reaches the caller, and the next use tries again.
        """
        slot = (engine, key)
        with self._guard:
            lock = self._load_locks.setdefault(slot, threading.Lock())
        with lock:
            if slot in self._models:
                return self._models[slot], False
            started = time.perf_counter()
            model = load()
            self._models[slot] = model
        log.info(
            "model_loaded", engine=engine, key=str(key), load_s=round(time.perf_counter() - started, 3), pid=os.getpid()
        )
        return model, True

    def run_lock(self, engine: str, key: Hashable) -> threading.Lock:
        """Return the lock that serialises runs on the model under ``key``."""
        with self._guard:
            return self._run_locks.setdefault((engine, key), threading.Lock())

    def clear(self) -> None:
        """Forget every loaded model (its memory is freed once no task holds it)."""
        with self._guard:
            self._models.clear()


WARM = WarmModels()
"""The worker process's models."""
