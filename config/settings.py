"""One settings object built from defaults, an optional YAML file and ``TASKGATE_*`` variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import yaml

from config.errors import ConfigError

PositiveSeconds = Annotated[float, msgspec.Meta(gt=0)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]

ENV_PREFIX = "TASKGATE_"
CONFIG_ENV = "TASKGATE_CONFIG"


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base for settings sections: unknown keys are errors."""


class GpuDevice(_Section):
    """One GPU and how many lease holders it takes at once."""

    index: Annotated[int, msgspec.Meta(ge=0)]
    capacity: PositiveInt = 1


class GpuLockSettings(_Section):
    """The design's ``gpu_lock`` section."""

    poll_interval: PositiveSeconds = 0.5
    max_wait_time: PositiveSeconds = 300.0
    lock_timeout: PositiveSeconds = 7200.0
    exponential_backoff: bool = True
    max_poll_interval: PositiveSeconds = 5.0
    backoff_factor: Annotated[float, msgspec.Meta(ge=1.0)] = 1.5
    jitter: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.1
    lease_ttl: PositiveSeconds = 30.0
    devices: list[GpuDevice | int] = msgspec.field(default_factory=lambda: [GpuDevice(index=0)])

    def __post_init__(self) -> None:
        self.devices = [d if isinstance(d, GpuDevice) else GpuDevice(index=d) for d in self.devices]
        if not self.devices:
            raise ValueError("gpu_lock.devices must name at least one device")
        if self.max_poll_interval < self.poll_interval:
            raise ValueError("gpu_lock.max_poll_interval must be >= gpu_lock.poll_interval")

    @property
    def device_list(self) -> list[GpuDevice]:
        """Return the devices, normalised to ``GpuDevice``."""
        return [d for d in self.devices if isinstance(d, GpuDevice)]


class TimeoutLevels(_Section):
    """Task run-time tiers, in seconds."""

    warning: PositiveSeconds = 1800.0
    soft_timeout: PositiveSeconds = 3600.0
    hard_timeout: PositiveSeconds = 7200.0

    def __post_init__(self) -> None:
        if not self.warning <= self.soft_timeout <= self.hard_timeout:
            raise ValueError("timeout_levels must satisfy warning <= soft_timeout <= hard_timeout")


class HeartbeatSettings(_Section):
    """How often running tasks heartbeat and when a heartbeat counts as dead."""

    interval: PositiveSeconds = 10.0
    timeout: PositiveSeconds = 60.0


class GpuLockMonitorSettings(_Section):
    """The design's ``gpu_lock_monitor`` section."""

    monitor_interval: PositiveSeconds = 5.0
    timeout_levels: TimeoutLevels = msgspec.field(default_factory=TimeoutLevels)
    task_timeout_levels: dict[str, TimeoutLevels] = msgspec.field(default_factory=dict)
    heartbeat: HeartbeatSettings = msgspec.field(default_factory=HeartbeatSettings)
    requeue_dead_tasks: bool = True
    enabled: bool = True


class FfmpegSettings(_Section):
    """Where ffmpeg comes from and whether it decodes on the GPU."""

    binary: str | None = None
    hwaccel: Literal["cuda", "vaapi", "qsv"] | None = None


class WhisperSettings(_Section):
    """faster-whisper defaults; ``model`` is a name or a local folder."""

    model: str | None = None
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = "int8"
    cpu_threads: Annotated[int, msgspec.Meta(ge=0)] = 0


class PyannoteSettings(_Section):
    """pyannote.audio pipeline: a local folder or a hub name (needs HF_TOKEN)."""

    pipeline: str | None = None
    device: Literal["cpu", "cuda"] = "cpu"


class OcrSettings(_Section):
    """OCR engine choice and PaddleOCR model folders."""

    engine: Literal["rapidocr", "paddleocr"] = "rapidocr"
    device: Literal["cpu", "cuda"] = "cpu"
    language: str = "ch"
    text_detection_model_dir: str | None = None
    text_recognition_model_dir: str | None = None


class LlmProvider(_Section):
    """An OpenAI-compatible endpoint; the key is read from ``api_key_env`` at call time."""

    base_url: str | None = None
    model: str = "gpt-4o-mini"
    api_key_env: str = "OPENAI_API_KEY"


class LlmSettings(_Section):
    """LLM calls: providers, chunking and concurrency."""

    provider: str = "default"
    providers: dict[str, LlmProvider] = msgspec.field(default_factory=dict)
    context_tokens: PositiveInt = 8192
    max_chunk_cues: PositiveInt = 40
    chunk_overlap_cues: Annotated[int, msgspec.Meta(ge=0)] = 3
    max_concurrency: PositiveInt = 4
    max_attempts: PositiveInt = 5
    timeout_s: PositiveSeconds = 120.0


class Settings(_Section):
    """Every setting of a taskgate process."""

    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: Port = 8788
    share_dir: str = "./data/share"
    data_dir: str = "./data"
    state_ttl_s: PositiveInt = 7 * 24 * 3600
    max_body_bytes: PositiveInt = 1024 * 1024
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    worker_processes: PositiveInt = 1
    worker_threads: PositiveInt = 2
    max_retries: Annotated[int, msgspec.Meta(ge=0)] = 3
    broker_heartbeat_timeout_s: PositiveSeconds = 60.0
    broker_maintenance_chance: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 1000
    retry_min_backoff_s: PositiveSeconds = 1.0
    retry_max_backoff_s: PositiveSeconds = 60.0
    gpu_lock: GpuLockSettings = msgspec.field(default_factory=GpuLockSettings)
    gpu_lock_monitor: GpuLockMonitorSettings = msgspec.field(default_factory=GpuLockMonitorSettings)
    ffmpeg: FfmpegSettings = msgspec.field(default_factory=FfmpegSettings)
    faster_whisper: WhisperSettings = msgspec.field(default_factory=WhisperSettings)
    pyannote: PyannoteSettings = msgspec.field(default_factory=PyannoteSettings)
    ocr: OcrSettings = msgspec.field(default_factory=OcrSettings)
    llm: LlmSettings = msgspec.field(default_factory=LlmSettings)

    @property
    def share_root(self) -> Path:
        """Return the storage root as an absolute, resolved path."""
        return Path(self.share_dir).expanduser().resolve()


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Turn ``TASKGATE_A__B=v`` into ``{"a": {"b": v}}``; values are parsed as YAML scalars."""
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{name}: conflicts with another TASKGATE_ variable")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        node[path[-1]] = value
    return tree


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``over`` into ``base`` recursively and return ``base``."""
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def settings_from_mapping(data: Mapping[str, Any], source: str = "settings") -> Settings:
    """Validate a nested mapping into ``Settings``.

    Raises:
        ConfigError: a key is unknown or a value is invalid; the message names the key.
    """
    try:
        return msgspec.convert(dict(data), Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from defaults, ``TASKGATE_CONFIG`` (YAML) and ``TASKGATE_*`` variables.

    Raises:
        ConfigError: the YAML file is unreadable, or a key is unknown or has a bad value.
    """
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    config_path = env.get(CONFIG_ENV)
    if config_path:
        try:
            loaded = yaml.safe_load(Path(config_path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{CONFIG_ENV}={config_path}: cannot read: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{config_path}: the top level must be a mapping")
        _merge(data, loaded)
    _merge(data, _env_overrides(env))
    return settings_from_mapping(data, source=config_path or "environment")
