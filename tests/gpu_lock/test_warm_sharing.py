"""Engines share a GPU within a worker: idle warm models are freed, least recently used, for another engine's lease.

Real leases on the session's Redis (a memory-weighted device) and a real ``WarmModels``; the "models" are
plain objects whose collection is observed through weak references.
"""

from __future__ import annotations

import gc
import shutil
import weakref

import redis

from actors.worker.footprint import start_measuring
from actors.worker.warm import WarmModels
from config import Settings
from config.gpu import GpuLockSettings
from gpu_lock import GpuLock, HolderInfo
from tests.gpu_lock.helpers import settings


class Model:
    """Stands for a loaded engine model."""


def lock_settings() -> GpuLockSettings:
    return settings(devices=[{"index": 0, "memory_mb": 10_000}])


def load_under_lease(lock: GpuLock, warm: WarmModels, engine: str, memory_mb: int) -> weakref.ref[Model]:
    """Use ``engine``'s model under a lease of ``memory_mb``, then let the lease go; return a weak ref to it."""
    owner = HolderInfo(task_id=f"task-{engine}", task_name=f"{engine}.run", memory_mb=memory_mb)
    with lock.hold(owner) as lease:
        warm.lease_started(lease.token)
        model, loaded = warm.get(engine, "model", Model)
        assert loaded
        warm.lease_ended(lease.token)
    return weakref.ref(model)


def test_idle_models_of_other_engines_are_freed_lru_when_a_lease_needs_their_memory(
    redis_client: redis.Redis,
) -> None:
    lock, warm = GpuLock(redis_client, lock_settings()), WarmModels()
    whisper = load_under_lease(lock, warm, "faster_whisper", 5000)
    ocr = load_under_lease(lock, warm, "paddleocr", 3000)
    assert [slot[0] for slot, _ in warm.idle_on(0)] == ["faster_whisper", "paddleocr"]  # LRU first

    # A 2000 MiB lease leaves 8000 unleased: both idle models (8000) still fit, nobody is freed.
    assert warm.make_room(0, unleased_mb=8000, keep_engine="tts") == []
    # A 6000 MiB lease leaves 4000: the least recently used (whisper, 5000) goes; 3000 then fit.
    freed = warm.make_room(0, unleased_mb=4000, keep_engine="tts")
    assert freed == ["faster_whisper:model"]
    gc.collect()
    assert whisper() is None, "the freed model is still referenced"
    assert ocr() is not None
    assert warm.loaded("paddleocr", "model")
    assert not warm.loaded("faster_whisper", "model")
    # The engine taking the lease keeps its own idle model.
    assert warm.make_room(0, unleased_mb=0, keep_engine="paddleocr") == []
    assert warm.loaded("paddleocr", "model")


def test_a_model_in_use_under_a_held_lease_is_never_freed(redis_client: redis.Redis) -> None:
    lock, warm = GpuLock(redis_client, lock_settings()), WarmModels()
    owner = HolderInfo(task_id="task-busy", task_name="faster_whisper.run", memory_mb=5000)
    with lock.hold(owner) as lease:
        warm.lease_started(lease.token)
        warm.get("faster_whisper", "model", Model)
        assert warm.make_room(0, unleased_mb=0, keep_engine="tts") == []
        warm.lease_ended(lease.token)
    assert warm.make_room(0, unleased_mb=0, keep_engine="tts") == ["faster_whisper:model"]


def test_measuring_is_off_when_told_and_falls_back_to_nothing_without_a_gpu() -> None:
    assert start_measuring(Settings(gpu_lock=GpuLockSettings(measure_memory="off")), 0) is None
    no_gpu = shutil.which("nvidia-smi") is None
    for how in ("auto", "torch", "nvml"):
        footprint = start_measuring(Settings(gpu_lock=GpuLockSettings(measure_memory=how)), 0)
        if no_gpu:
            assert footprint is None
        elif footprint is not None:  # a GPU machine: the measurement ends with a figure
            assert footprint.peak_bytes() >= 0
