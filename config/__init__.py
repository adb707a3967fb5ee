"""Settings and logging shared by every taskgate process."""

from config.errors import ConfigError
from config.gpu import GpuDevice, GpuLockMonitorSettings, GpuLockSettings, HeartbeatSettings, TimeoutLevels
from config.logging import configure_logging
from config.settings import Settings, load_settings

__all__ = [
    "ConfigError",
    "GpuDevice",
    "GpuLockMonitorSettings",
    "GpuLockSettings",
    "HeartbeatSettings",
    "Settings",
    "TimeoutLevels",
    "configure_logging",
    "load_settings",
]
