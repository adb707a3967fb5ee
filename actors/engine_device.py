"""One device rule for every engine: what a ``device`` setting means on this host, and which GPU to use.

Every engine section has a ``device`` setting (``cpu``, ``cuda``, and for some ``auto``: cuda when the host
shows an NVIDIA device). A stage on cuda holds a GPU lease, and the lease names the GPU (``run.gpu_device``);
the engine runs on that index, or on 0 when it runs without a lease (a direct call). On cpu the index is 0, so
one loaded model serves every run whatever lease a task of another engine holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["cpu", "cuda"]


@dataclass(frozen=True)
class EngineDevice:
    """Where an engine runs: ``kind`` and the GPU ``index`` (0 on cpu)."""

    kind: Kind
    index: int = 0

    @property
    def on_cuda(self) -> bool:
        """Return whether the engine runs on a GPU."""
        return self.kind == "cuda"

    @property
    def torch_name(self) -> str:
        """Return the device as torch names it: ``cuda:N`` or ``cpu``."""
        return f"cuda:{self.index}" if self.on_cuda else "cpu"


def has_gpu_device() -> bool:
    """Return whether this host shows an NVIDIA device (cheap: no CUDA library is loaded)."""
    return Path("/dev/nvidia0").exists()


def device_kind(setting: str) -> Kind:
    """Return ``cuda`` or ``cpu`` for a ``device`` setting: ``auto`` means cuda when the host has an NVIDIA device."""
    if setting == "auto":
        return "cuda" if has_gpu_device() else "cpu"
    return "cuda" if setting == "cuda" else "cpu"


def uses_cuda(setting: str) -> bool:
    """Return whether an engine with this ``device`` setting runs on a GPU (and so takes a GPU lease)."""
    return device_kind(setting) == "cuda"


def engine_device(setting: str, gpu_device: int | None) -> EngineDevice:
    """Return where an engine with this ``device`` setting runs, given the GPU its stage's lease names (if any)."""
    kind = device_kind(setting)
    return EngineDevice(kind, gpu_device if kind == "cuda" and gpu_device is not None else 0)
