"""Measure the GPU memory a run really used, to compare with what its lease asked for.

``gpu_lock.measure_memory`` picks how: ``torch`` reads the framework's peak allocation
(``torch.cuda.max_memory_allocated``, reset when a lease is taken); ``nvml`` samples this process's memory on
the device through NVML (``pynvml``) every 100 ms, which also sees CTranslate2 and onnxruntime; ``auto`` uses
torch when the process has imported it with CUDA, else NVML when it loads, else nothing; ``off`` never
measures. Without a GPU every path falls back to nothing: the record then carries no ``measured_mb``.
Both are per process: two runs at once in one worker process share the figure (an upper bound).
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any, Protocol

import structlog

from config import Settings

log = structlog.get_logger(__name__)
MIB = 1024 * 1024
SAMPLE_S = 0.1


class _Session(Protocol):
    @property
    def memory_mb(self) -> int: ...
    @property
    def model(self) -> str | None: ...


class Footprint:
    """One run's measurement in progress; ``report`` ends it and returns the record's fields."""

    def __init__(self, how: str, device: int, nvml: Any = None) -> None:
        self.how = how
        self.device = device
        self._nvml = nvml
        self._peak_bytes = 0
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None
        if how == "torch":
            import torch  # noqa: PLC0415  (already imported: auto picks torch only then)

            torch.cuda.reset_peak_memory_stats(device)
        else:
            self._sampler = threading.Thread(target=self._sample, name="gpu-footprint", daemon=True)
            self._sampler.start()

    def _sample(self) -> None:
        nvml, pid = self._nvml, os.getpid()
        handle = nvml.nvmlDeviceGetHandleByIndex(self.device)
        while not self._stop.wait(SAMPLE_S):
            for proc in nvml.nvmlDeviceGetComputeRunningProcesses(handle):
                if proc.pid == pid and proc.usedGpuMemory:
                    self._peak_bytes = max(self._peak_bytes, int(proc.usedGpuMemory))

    def peak_bytes(self) -> int:
        """Stop measuring and return the peak in bytes."""
        if self.how == "torch":
            import torch  # noqa: PLC0415

            return int(torch.cuda.max_memory_allocated(self.device))
        self._stop.set()
        if self._sampler is not None:
            self._sampler.join(timeout=1)
        return self._peak_bytes

    def report(self, session: _Session, task_name: str) -> dict[str, Any]:
        """Return ``measured_mb`` and ``measured_by`` (and ``over_declared``); warn when above the declared MiB."""
        measured_mb = -(-self.peak_bytes() // MIB)
        fields: dict[str, Any] = {"measured_mb": measured_mb, "measured_by": self.how}
        if session.memory_mb and measured_mb > session.memory_mb:
            fields["over_declared"] = True
            log.warning(
                "gpu_memory_over_declared",
                task_name=task_name,
                model=session.model,
                declared_mb=session.memory_mb,
                measured_mb=measured_mb,
            )
        return fields


def _torch_ready() -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and bool(torch.cuda.is_available())


def _nvml() -> Any:
    try:
        import pynvml  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415  (optional: nvidia-ml-py)
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:  # no driver or no device: nothing to measure with
        log.debug("nvml_unavailable", error=str(exc))
        return None
    return pynvml


def start_measuring(settings: Settings, device: int) -> Footprint | None:
    """Begin measuring a run on ``device`` as ``gpu_lock.measure_memory`` says, or return None (nothing to use)."""
    how = settings.gpu_lock.measure_memory
    if how == "off":
        return None
    if how in ("auto", "torch") and _torch_ready():
        return Footprint("torch", device)
    if how in ("auto", "nvml") and (nvml := _nvml()) is not None:
        return Footprint("nvml", device, nvml)
    return None
