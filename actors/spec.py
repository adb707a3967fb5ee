"""Task specs and the `task` decorator that fills the registry (`actors.registry` imports every service)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from config import Settings

if TYPE_CHECKING:
    from actors.worker.runtime import TaskRun

QUEUES = (
    "system",
    "ffmpeg",
    "faster_whisper",
    "pyannote_audio",
    "paddleocr",
    "inpainting",
    "llm",
    "subtitles",
    "tts",
    "audio",
    "webhooks",
)

# MiB of GPU memory a task of each engine's queue asks for unless its registration says otherwise
# (fp16 footprints of the default models; gpu_lock.task_memory_mb overrides them per task, engine or model).
GPU_MEMORY_MB = {
    "faster_whisper": 5200,
    "pyannote_audio": 1536,
    "paddleocr": 2048,
    "inpainting": 2048,
    "tts": 1024,
    "llm": 1024,
    "system": 1024,
}
DEFAULT_GPU_MEMORY_MB = 1024

In = TypeVar("In", bound=msgspec.Struct)
Out = TypeVar("Out", bound=msgspec.Struct)
Body = Callable[["TaskRun", Any], msgspec.Struct | dict[str, Any]]
GpuRule = Callable[[Settings, Any], bool]
# Checks at submit that need settings (e.g. a voice that must exist); raises InvalidInput. Gets the raw input_data.
SubmitCheck = Callable[[Settings, dict[str, Any]], None]


@dataclass(frozen=True)
class TaskSpec:
    """Everything the platform knows about one task_name."""

    name: str
    queue: str
    input_type: type[msgspec.Struct]
    output_type: type[msgspec.Struct]
    body: Body
    gpu_rule: GpuRule
    description: str
    check: SubmitCheck | None = None
    # MiB of GPU memory one run asks the lease for (see actors.gpu_memory for the settings that override it)
    gpu_memory_mb: int = DEFAULT_GPU_MEMORY_MB
    # the Struct the worker decodes the stored input into, when it is not the submitted one (pipelines)
    run_type: type[msgspec.Struct] | None = None

    def uses_gpu(self, settings: Settings, params: Any = None) -> bool:
        """Return whether a run of this task takes a GPU lease under these settings."""
        return self.gpu_rule(settings, params)


REGISTRY: dict[str, TaskSpec] = {}


def never(_settings: Settings, _params: Any) -> bool:
    """GPU rule of CPU-only tasks."""
    return False


def always(_settings: Settings, _params: Any) -> bool:
    """GPU rule of tasks that always hold a lease."""
    return True


def task(
    name: str,
    *,
    queue: str,
    input: type[In],  # noqa: A002  (the registry's vocabulary)
    output: type[Out],
    gpu: GpuRule = never,
    check: SubmitCheck | None = None,
    gpu_memory_mb: int | None = None,
) -> Callable[[Callable[[TaskRun, In], Out]], Callable[[TaskRun, In], Out]]:
    """Register a task body under ``name``; the lifecycle runs it on ``queue``'s workers.

    ``check``, when given, runs at submit after the input matched its Struct (the gateway's settings).
    ``gpu_memory_mb`` is the MiB a run asks the GPU lease for (default: its queue's ``GPU_MEMORY_MB``).

    Raises:
        ValueError: the name is taken or the queue is unknown.
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r} for {name!r}")

    def register(body: Callable[[TaskRun, In], Out]) -> Callable[[TaskRun, In], Out]:
        if name in REGISTRY:
            raise ValueError(f"task {name!r} is registered twice")
        doc = (body.__doc__ or "").strip().splitlines()
        REGISTRY[name] = TaskSpec(
            name=name,
            queue=queue,
            input_type=input,
            output_type=output,
            body=body,
            gpu_rule=gpu,
            description=doc[0] if doc else name,
            check=check,
            gpu_memory_mb=gpu_memory_mb or GPU_MEMORY_MB.get(queue, DEFAULT_GPU_MEMORY_MB),
        )
        return body

    return register


def get_spec(name: str) -> TaskSpec:
    """Return the spec of a registered task.

    Raises:
        KeyError: no task has this name.
    """
    return REGISTRY[name]
