"""Read each GPU's memory at worker start (``gpu_lock.detect_memory``), so that leases are weighted by it.

With ``detect_memory: true`` and ``nvidia-smi`` present, the worker's ``gpu_lock.devices`` become the listed
indices (or every GPU it shows, when none is listed beyond the default) with ``memory_mb`` from the device;
``gpu_lock.reserve_mb`` is taken off as for configured memory. Without ``nvidia-smi`` the settings stay as they
are. The gateway checks requests at submit against its own settings: give it the same ``devices`` (with
``memory_mb``) to have a too-large request refused there rather than at the worker.
"""

from __future__ import annotations

import shutil
import subprocess

import msgspec
import structlog

from config import Settings
from config.gpu import GpuDevice

log = structlog.get_logger(__name__)


def parse_memory(csv: str) -> dict[int, int]:
    """Return index -> total MiB from ``nvidia-smi --query-gpu=index,memory.total --format=csv,noheader,nounits``."""
    found = {}
    for line in csv.strip().splitlines():
        index, _, total = line.partition(",")
        if index.strip().isdigit() and total.strip():
            found[int(index)] = int(float(total))
    return found


def detected_memory() -> dict[int, int]:
    """Return each GPU's total MiB as ``nvidia-smi`` reports it (empty without it)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return {}
    query = [smi, "--query-gpu=index,memory.total", "--format=csv,noheader,nounits"]
    try:
        out = subprocess.run(query, capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("gpu_memory_not_detected", error=str(exc))
        return {}
    return parse_memory(out)


def with_memory(settings: Settings, memory: dict[int, int]) -> Settings:
    """Return ``settings`` whose devices carry the detected ``memory`` (index -> MiB), when there is any.

    Raises:
        msgspec.ValidationError: a device's memory is not above ``gpu_lock.reserve_mb``.
    """
    lock = settings.gpu_lock
    if not lock.detect_memory or not memory:
        return settings
    listed = [d.index for d in lock.device_list]
    indices = [i for i in listed if i in memory] if listed != [0] else sorted(memory)
    devices = [GpuDevice(index=i, memory_mb=memory[i]) for i in indices]
    if not devices:
        return settings
    raw = msgspec.to_builtins(lock) | {"devices": msgspec.to_builtins(devices)}
    log.info("gpu_memory_detected", devices={d.index: d.memory_mb for d in devices}, reserve_mb=lock.reserve_mb)
    return msgspec.structs.replace(settings, gpu_lock=msgspec.convert(raw, type(lock)))
