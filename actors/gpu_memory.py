"""How much GPU memory a task run asks the lease for, and the submit check that it fits some device.

A task's registry entry declares its MiB (``TaskSpec.gpu_memory_mb``); ``gpu_lock.task_memory_mb`` overrides it,
the most specific key winning: ``<engine>.models.<model>`` (the model the run names, or its engine's default),
then the task name, then the engine (its queue). ``system.gpu_hold`` takes ``memory_mb`` in its input.
"""

from __future__ import annotations

from typing import Any

from actors.spec import TaskSpec
from actors.validation import InvalidInput, decode_input
from config import Settings
from state.references import is_reference

# Engine sections whose default model a run uses unless its input names one.
_ENGINE_SECTION = {"faster_whisper": "faster_whisper", "pyannote_audio": "pyannote", "inpainting": "inpainting"}


def model_of(spec: TaskSpec, settings: Settings, params: Any) -> str | None:
    """Return the model a run uses, when its input or its engine's settings name one."""
    named = getattr(params, "model", None)
    if isinstance(named, str) and named:
        return named
    section = getattr(settings, _ENGINE_SECTION.get(spec.queue, spec.queue), None)
    default = getattr(section, "model", None)
    return default if isinstance(default, str) and default else None


def requested_mb(spec: TaskSpec, settings: Settings, params: Any = None) -> int:
    """Return the MiB a run of ``spec`` with ``params`` asks the GPU lease for."""
    explicit = getattr(params, "memory_mb", None)
    if isinstance(explicit, int) and explicit > 0:
        return explicit
    table = settings.gpu_lock.task_memory_mb
    model = model_of(spec, settings, params)
    for key in (f"{spec.queue}.models.{model}" if model else None, spec.name, spec.queue):
        if key is not None and key in table:
            return table[key]
    return spec.gpu_memory_mb


def check_fits(spec: TaskSpec, settings: Settings, params: Any = None) -> None:
    """Refuse at submit a run that asks more GPU memory than the largest memory-weighted device has.

    Raises:
        InvalidInput: the run's memory exceeds every device's capacity (less ``gpu_lock.reserve_mb``).
    """
    lock = settings.gpu_lock
    if not lock.by_memory or not spec.uses_gpu(settings, params):
        return
    memory_mb = requested_mb(spec, settings, params)
    capacities = lock.capacities()
    largest = max(capacities, key=lambda d: capacities[d])
    if memory_mb > capacities[largest]:
        raise InvalidInput(
            f"{spec.name} asks {memory_mb} MiB of GPU memory; the largest device, {largest}, has "
            f"{capacities[largest]} MiB (gpu_lock.devices memory_mb less gpu_lock.reserve_mb {lock.reserve_mb})",
            "$.input_data",
        )


def check_submit(spec: TaskSpec, settings: Settings, data: dict[str, Any]) -> None:
    """Run ``check_fits`` on submitted ``input_data`` (already validated).

    Inputs that refer to other stages' outputs are judged on what the task always asks.

    Raises:
        InvalidInput: the run's memory exceeds every device's capacity.
    """
    if not settings.gpu_lock.by_memory:
        return
    params = None if any(is_reference(v) for v in data.values()) else decode_input(spec, data)
    check_fits(spec, settings, params)
