"""Keep engine models warm in a worker process: one mechanism for every engine.

An engine names its models by a key that holds what makes two loads differ (the model, the device and
the precision, plus anything else its loader reads); the first use of a key loads it, concurrent first
uses wait for that one load, and later uses get the same object. Engines whose loaded model is not safe
to run from two threads at once take ``run_lock`` around each run.

A model loaded or used under a GPU lease on a memory-weighted device is noted with that device, the MiB
the lease granted and when it was last used. Once its lease ends the model sits idle, holding memory no
lease accounts for; when a lease for another engine is taken on that device, ``make_room`` frees idle
models, least recently used first, until the idle ones fit in the memory no lease holds.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

from gpu_lock.events import current_lease

T = TypeVar("T")
log = structlog.get_logger(__name__)


@dataclass(slots=True)
class OnGpu:
    """Where a warm model sits and what it cost: the device, the MiB its lease granted, its last use."""

    device: int
    memory_mb: int
    used_at: float
    lease_token: str


class WarmModels:
    """Models loaded in this process, one per ``(engine, key)``."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, Hashable], Any] = {}
        self._load_locks: dict[tuple[str, Hashable], threading.Lock] = {}
        self._run_locks: dict[tuple[str, Hashable], threading.Lock] = {}
        self._guard = threading.Lock()
        self._on_gpu: dict[tuple[str, Hashable], OnGpu] = {}
        self._leases: set[str] = set()

    def get(self, engine: str, key: Hashable, load: Callable[[], T]) -> tuple[T, bool]:
        """Return ``(model, loaded_now)``: the warm model under ``key``, or the one ``load()`` returns now.

        Whatever ``load`` raises reaches the caller, and the next use tries again.
        """
        slot = (engine, key)
        with self._guard:
            lock = self._load_locks.setdefault(slot, threading.Lock())
        with lock:
            if slot in self._models:
                self._note_gpu(slot)
                return self._models[slot], False
            started = time.perf_counter()
            model = load()
            self._models[slot] = model
            self._note_gpu(slot)
        log.info(
            "model_loaded", engine=engine, key=str(key), load_s=round(time.perf_counter() - started, 3), pid=os.getpid()
        )
        return model, True

    def run_lock(self, engine: str, key: Hashable) -> threading.Lock:
        """Return the lock that serialises runs on the model under ``key``."""
        with self._guard:
            return self._run_locks.setdefault((engine, key), threading.Lock())

    def _note_gpu(self, slot: tuple[str, Hashable]) -> None:
        """Record that ``slot`` runs under the enclosing GPU lease, when there is one on a memory-weighted device."""
        lease = current_lease()
        if lease is None or not lease.by_memory:
            return
        with self._guard:
            self._on_gpu[slot] = OnGpu(lease.device, lease.amount, time.monotonic(), lease.token)

    def lease_started(self, token: str) -> None:
        """Note a lease this process holds: models used under it are busy until ``lease_ended``."""
        with self._guard:
            self._leases.add(token)

    def lease_ended(self, token: str) -> None:
        """Note that a lease of this process ended: the models used under it are idle now."""
        with self._guard:
            self._leases.discard(token)

    def idle_on(self, device: int) -> list[tuple[tuple[str, Hashable], OnGpu]]:
        """Return the idle warm models on ``device``, least recently used first."""
        with self._guard:
            idle = [(s, g) for s, g in self._on_gpu.items() if g.device == device and g.lease_token not in self._leases]
        return sorted(idle, key=lambda item: item[1].used_at)

    def make_room(self, device: int, unleased_mb: int, keep_engine: str) -> list[str]:
        """Free idle models of engines other than ``keep_engine`` on ``device``; return the freed keys.

        Least recently used first, until the idle models' MiB fit in ``unleased_mb`` (what no lease holds).
        """
        idle = self.idle_on(device)
        idle_mb = sum(g.memory_mb for _, g in idle)
        freed: list[str] = []
        for slot, on_gpu in idle:
            if idle_mb <= unleased_mb:
                break
            if slot[0] == keep_engine:
                continue
            self.evict(slot)
            idle_mb -= on_gpu.memory_mb
            freed.append(f"{slot[0]}:{slot[1]}")
            log.info("warm_model_freed", engine=slot[0], key=str(slot[1]), device=device, memory_mb=on_gpu.memory_mb)
        return freed

    def evict(self, slot: tuple[str, Hashable]) -> None:
        """Forget one model and give its GPU memory back (once no task holds it); the next use loads it again."""
        lock = self._load_locks.get(slot)
        if lock is None:
            return
        with lock, self._guard:  # never while it is being loaded
            self._models.pop(slot, None)
            self._on_gpu.pop(slot, None)
        gc.collect()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    def loaded(self, engine: str, key: Hashable) -> bool:
        """Return whether the model under ``key`` is warm."""
        return (engine, key) in self._models

    def clear(self) -> None:
        """Forget every loaded model (its memory is freed once no task holds it)."""
        with self._guard:
            self._models.clear()
            self._on_gpu.clear()


WARM = WarmModels()
"""The worker process's models."""
