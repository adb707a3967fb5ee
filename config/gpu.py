"""The GPU lease lock's settings and the monitor's: the live sections ``PUT /v1/monitor/config`` changes."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from config.section import Section as _Section

# Bounds of the live sections (PUT /v1/monitor/config), in seconds: wide enough for tests and real deployments,
# narrow enough that no value declares running tasks dead, spins a loop or stalls a waiter for ever.
PollSeconds = Annotated[float, msgspec.Meta(ge=0.01, le=300.0)]
WaitSeconds = Annotated[float, msgspec.Meta(ge=0.01, le=7 * 86400.0)]
LeaseSeconds = Annotated[float, msgspec.Meta(ge=0.1, le=3600.0)]
TierSeconds = Annotated[float, msgspec.Meta(ge=0.1, le=30 * 86400.0)]
PassSeconds = Annotated[float, msgspec.Meta(ge=0.05, le=3600.0)]
HeartbeatTimeoutSeconds = Annotated[float, msgspec.Meta(ge=0.1, le=86400.0)]
PendingSeconds = Annotated[float, msgspec.Meta(ge=0.01, le=30 * 86400.0)]
DeviceIndex = Annotated[int, msgspec.Meta(ge=0, le=1023)]
MemoryMb = Annotated[int, msgspec.Meta(ge=1, le=16 * 1024 * 1024)]  # MiB, up to 16 TiB


class GpuDevice(_Section):
    """One GPU: how many lease holders it takes at once (``capacity``), or its memory when shared by memory."""

    index: DeviceIndex
    capacity: Annotated[int, msgspec.Meta(ge=1, le=1024)] = 1
    # MiB; when set (on every device), leases are weighted by memory: a device admits holders while the
    # MiB they asked for fit in memory_mb - gpu_lock.reserve_mb, and `capacity` is not used.
    memory_mb: MemoryMb | None = None


def gpu_devices(devices: list[GpuDevice | int], reserve_mb: int) -> list[GpuDevice]:
    """Return ``gpu_lock.devices`` normalised: bare integers are one-slot devices; memory set on all or none.

    Raises:
        ValueError: no device, memory given on some devices only, or a memory not above the reserve.
    """
    normal = [d if isinstance(d, GpuDevice) else GpuDevice(index=d) for d in devices]
    if not normal:
        raise ValueError("gpu_lock.devices must name at least one device")
    weighted = [d for d in normal if d.memory_mb is not None]
    if weighted and len(weighted) != len(normal):
        raise ValueError("gpu_lock.devices: give memory_mb on every device or on none (a bare index has none)")
    for d in weighted:
        if d.memory_mb is not None and d.memory_mb <= reserve_mb:
            raise ValueError(
                f"gpu_lock.devices: device {d.index} has memory_mb {d.memory_mb}, "
                f"not above gpu_lock.reserve_mb {reserve_mb}"
            )
    return normal


class GpuLockSettings(_Section):
    """The design's ``gpu_lock`` section."""

    poll_interval: PollSeconds = 0.5
    max_wait_time: WaitSeconds = 300.0
    lock_timeout: TierSeconds = 7200.0
    exponential_backoff: bool = True
    max_poll_interval: PollSeconds = 5.0
    backoff_factor: Annotated[float, msgspec.Meta(ge=1.0, le=10.0)] = 1.5
    jitter: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.1
    lease_ttl: LeaseSeconds = 30.0
    devices: Annotated[list[GpuDevice | DeviceIndex], msgspec.Meta(max_length=1024)] = msgspec.field(
        default_factory=lambda: [GpuDevice(index=0)]
    )
    # MiB of each memory-weighted device kept out of the leases (CUDA context, fragmentation).
    reserve_mb: Annotated[int, msgspec.Meta(ge=0, le=1024 * 1024)] = 0
    # Memory a GPU task asks for, overriding its registry default: by task name ("faster_whisper.transcribe"),
    # by engine ("faster_whisper") or by engine model ("faster_whisper.models.large-v3"), the most specific wins.
    task_memory_mb: dict[str, MemoryMb] = msgspec.field(default_factory=dict)
    # How a worker measures a GPU run's real footprint (actors/worker/footprint.py); falls back to nothing.
    measure_memory: Literal["auto", "torch", "nvml", "off"] = "auto"
    # Workers read each device's memory from nvidia-smi at start (actors/worker/gpu_devices.py).
    detect_memory: bool = False

    def __post_init__(self) -> None:
        self.devices = list(gpu_devices(self.devices, self.reserve_mb))
        if self.max_poll_interval < self.poll_interval:
            raise ValueError("gpu_lock.max_poll_interval must be >= gpu_lock.poll_interval")
        if self.lease_ttl > self.lock_timeout:
            raise ValueError(
                f"gpu_lock.lease_ttl ({self.lease_ttl:g} s) must be <= gpu_lock.lock_timeout ({self.lock_timeout:g} s)"
            )

    @property
    def device_list(self) -> list[GpuDevice]:
        """Return the devices, normalised to ``GpuDevice``."""
        return [d for d in self.devices if isinstance(d, GpuDevice)]

    @property
    def by_memory(self) -> bool:
        """Return whether leases are weighted by memory (every device has ``memory_mb``)."""
        return self.device_list[0].memory_mb is not None

    def capacities(self) -> dict[int, int]:
        """Return each device's capacity in lease units: MiB above the reserve, or slots."""
        return {
            d.index: d.capacity if d.memory_mb is None else d.memory_mb - self.reserve_mb
            for d in sorted(self.device_list, key=lambda d: d.index)
        }


class TimeoutLevels(_Section):
    """Task run-time tiers, in seconds."""

    warning: TierSeconds = 1800.0
    soft_timeout: TierSeconds = 3600.0
    hard_timeout: TierSeconds = 7200.0

    def __post_init__(self) -> None:
        if not self.warning <= self.soft_timeout <= self.hard_timeout:
            raise ValueError("timeout_levels must satisfy warning <= soft_timeout <= hard_timeout")


class HeartbeatSettings(_Section):
    """How often running tasks heartbeat and when a heartbeat counts as dead."""

    interval: PassSeconds = 10.0
    timeout: HeartbeatTimeoutSeconds = 60.0

    def __post_init__(self) -> None:
        # One late heartbeat must not make a live task look dead.
        if self.timeout < 2 * self.interval:
            raise ValueError(
                f"heartbeat.timeout ({self.timeout:g} s) must be at least twice "
                f"heartbeat.interval ({self.interval:g} s)"
            )


class GpuLockMonitorSettings(_Section):
    """The design's ``gpu_lock_monitor`` section."""

    monitor_interval: PassSeconds = 5.0
    timeout_levels: TimeoutLevels = msgspec.field(default_factory=TimeoutLevels)
    task_timeout_levels: dict[str, TimeoutLevels] = msgspec.field(default_factory=dict)
    heartbeat: HeartbeatSettings = msgspec.field(default_factory=HeartbeatSettings)
    requeue_dead_tasks: bool = True
    # a PENDING stage whose message is in no queue this long is sent again (a message lost at start)
    pending_timeout: PendingSeconds = 120.0
    enabled: bool = True
