"""One settings object built from defaults, an optional YAML file and ``TASKGATE_*`` variables."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import yaml

from config.batches import BatchSettings
from config.engines import (
    FfmpegSettings,
    InpaintingSettings,
    LlmSettings,
    OcrSettings,
    PyannoteSettings,
    WhisperSettings,
)
from config.errors import ConfigError
from config.gpu import (
    GpuLockMonitorSettings,
    GpuLockSettings,
)
from config.limits import KeyLimits
from config.queueing import Priority, QueueingSettings
from config.redis_target import sentinel_address, sentinel_entries
from config.section import PositiveInt, PositiveSeconds
from config.section import Section as _Section
from config.voice import AudioSettings, TtsSettings

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]

ENV_PREFIX = "TASKGATE_"
CONFIG_ENV = "TASKGATE_CONFIG"


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

    # unset: the secret in secret_file, generated on first start
    secret: str | None = None
    # unset: {data_dir}/webhook_secret
    secret_file: str | None = None
    # send events without a signature (only when this says so)
    unsigned: bool = False
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


class StorageSettings(_Section):
    """How long a workflow's files under ``workflows/{id}/`` stay on the storage root."""

    # unset: until the workflow's record expires (state_ttl_s after its last change); else this long
    # after its last change, and never while a stage is pending or running
    retention_s: PositiveInt | None = None
    # keep what a stage makes only for its own use (per-line clips, intermediate crops)
    keep_intermediate: bool = False
    # how many expired workflows' folders one monitor pass removes at most
    sweep_batch: PositiveInt = 100


class ApiKey(_Section):
    """One API key, stored as the SHA-256 of the key (``taskgate hash-key`` prints it)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    key_sha256: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}\Z")]
    scopes: list[Literal["user", "admin"]] = msgspec.field(default_factory=lambda: ["user"])
    # submits past these get 429 (PUT /v1/keys/{name}/limits replaces them at run time)
    limits: KeyLimits | None = None
    # the priority of this key's submits that name none (else queueing.task_priority, then the default)
    priority: Priority | None = None
    # its share of turns among the clients of a queue and priority (round-robin, `weight` takes a turn)
    weight: PositiveInt | None = None
    # the client its submits count as for fairness (else the key's name); an admin key may set one per submit
    tenant: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")] | None = None


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


class HttpSettings(_Section):
    """How long a client may take to send a request to the gateway, and how many may be connected at once."""

    header_timeout_s: PositiveSeconds = 15.0  # request line and headers; also how long an idle connection stays
    body_timeout_s: PositiveSeconds = 60.0  # a JSON body in full; an upload between two chunks
    max_connections: PositiveInt = 1000  # more get 503 and are closed


class EventsSettings(_Section):
    """Live events (``GET /v1/events``): keep-alives and each client's buffer."""

    keepalive_s: PositiveSeconds = 15.0
    client_queue: PositiveInt = 1000


class AuditSettings(_Section):
    """The audit log of admin actions (``GET /v1/audit``)."""

    retention_s: PositiveInt = 90 * 24 * 3600


class RetryPolicy(_Section):
    """How a stage that failed with a transient error is retried."""

    max_retries: Annotated[int, msgspec.Meta(ge=0)] = 3
    min_backoff_s: PositiveSeconds = 1.0
    max_backoff_s: PositiveSeconds = 60.0


class Settings(_Section):
    """Every setting of a taskgate process."""

    redis_url: str | None = None
    # Redis Sentinel instead of redis_url: each sentinel's host:port (a list, or one comma-separated string)
    redis_sentinels: list[str] | str | None = None
    redis_sentinel_master: Annotated[str, msgspec.Meta(min_length=1)] = "mymaster"
    host: str = "127.0.0.1"
    port: Port = 8788
    share_dir: str = "./data/share"
    data_dir: str = "./data"
    # the embedded Redis's port (when neither redis_url nor redis_sentinels is set)
    embedded_redis_port: Port = 6389
    state_ttl_s: PositiveInt = 7 * 24 * 3600
    # a folder of pipeline definitions (*.yaml, *.yml, *.json) each gateway checks and keeps in Redis at start
    pipelines_dir: str | None = None
    max_body_bytes: PositiveInt = 1024 * 1024
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    worker_processes: PositiveInt = 1
    worker_threads: PositiveInt = 2
    max_retries: Annotated[int, msgspec.Meta(ge=0)] = 3
    broker_heartbeat_timeout_s: PositiveSeconds = 60.0
    broker_maintenance_chance: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 1000
    # how long a worker rides out an unreachable Redis: a task start retries, a running stage keeps working
    redis_grace_s: PositiveSeconds = 60.0
    retry_min_backoff_s: PositiveSeconds = 1.0
    retry_max_backoff_s: PositiveSeconds = 60.0
    task_retries: dict[str, RetryPolicy] = msgspec.field(default_factory=dict)
    gpu_lock: GpuLockSettings = msgspec.field(default_factory=GpuLockSettings)
    gpu_lock_monitor: GpuLockMonitorSettings = msgspec.field(default_factory=GpuLockMonitorSettings)
    ffmpeg: FfmpegSettings = msgspec.field(default_factory=FfmpegSettings)
    faster_whisper: WhisperSettings = msgspec.field(default_factory=WhisperSettings)
    pyannote: PyannoteSettings = msgspec.field(default_factory=PyannoteSettings)
    ocr: OcrSettings = msgspec.field(default_factory=OcrSettings)
    inpainting: InpaintingSettings = msgspec.field(default_factory=InpaintingSettings)
    llm: LlmSettings = msgspec.field(default_factory=LlmSettings)
    tts: TtsSettings = msgspec.field(default_factory=TtsSettings)
    audio: AudioSettings = msgspec.field(default_factory=AudioSettings)
    webhooks: WebhookSettings = msgspec.field(default_factory=WebhookSettings)
    network_policy: NetworkPolicySettings = msgspec.field(default_factory=NetworkPolicySettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    files: FilesSettings = msgspec.field(default_factory=FilesSettings)
    http: HttpSettings = msgspec.field(default_factory=HttpSettings)
    storage: StorageSettings = msgspec.field(default_factory=StorageSettings)
    audit: AuditSettings = msgspec.field(default_factory=AuditSettings)
    batches: BatchSettings = msgspec.field(default_factory=BatchSettings)
    queueing: QueueingSettings = msgspec.field(default_factory=QueueingSettings)

    def __post_init__(self) -> None:
        self.redis_sentinels = sentinel_entries(self.redis_sentinels)
        if self.redis_sentinels and self.redis_url:
            raise ValueError("set redis_url or redis_sentinels, not both")

    @property
    def redis_configured(self) -> bool:
        """Return whether an external Redis is configured (a URL or sentinels)."""
        return bool(self.redis_url or self.redis_sentinels)

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """Return the sentinels' ``(host, port)`` (empty when Redis is reached by URL)."""
        return [sentinel_address(entry) for entry in sentinel_entries(self.redis_sentinels)]

    events: EventsSettings = msgspec.field(default_factory=EventsSettings)

    def retry_policy(self, task_name: str) -> RetryPolicy:
        """Return the retry policy of ``task_name``: its override, else the top-level defaults."""
        default = RetryPolicy(
            max_retries=self.max_retries, min_backoff_s=self.retry_min_backoff_s, max_backoff_s=self.retry_max_backoff_s
        )
        return self.task_retries.get(task_name, default)

    @property
    def data_root(self) -> Path:
        """Return the data directory (embedded Redis, the webhook secret, the instance lock) as an absolute path."""
        return _resolved_dir(self.data_dir)

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
