"""Dynamic settings: overrides of the ``gpu_lock``, ``gpu_lock_monitor`` and ``queueing`` sections in Redis.

``PUT /v1/monitor/config`` validates a change against the same Structs as the settings file and
stores the merged overrides with a version number. Every process keeps a ``LiveSettings``: one
``MGET`` of the version and the overrides per refresh, and a rebuild only when the version changed.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

import msgspec
import redis
import redis.asyncio as aioredis
import structlog

from config import keys
from config.errors import ConfigError
from config.gpu import GpuLockMonitorSettings, GpuLockSettings
from config.queueing import QueueingSettings
from config.settings import Settings, _merge
from redis_io.channel import Channel

log = structlog.get_logger(__name__)

LIVE_SECTIONS: dict[str, type[msgspec.Struct]] = {
    "gpu_lock": GpuLockSettings,
    "gpu_lock_monitor": GpuLockMonitorSettings,
    "queueing": QueueingSettings,
}


def apply_overrides(base: Settings, overrides: Mapping[str, Any]) -> Settings:
    """Return ``base`` with the live sections replaced by their overridden versions.

    Raises:
        ConfigError: a section is unknown, or a key or value is invalid; the message names it.
    """
    changed: dict[str, Any] = {}
    for section, patch in overrides.items():
        kind = LIVE_SECTIONS.get(section)
        if kind is None:
            raise ConfigError(f"{section}: only {', '.join(LIVE_SECTIONS)} can change at run time")
        if not isinstance(patch, Mapping):
            raise ConfigError(f"{section}: expected an object")
        merged = _merge(msgspec.to_builtins(getattr(base, section)), patch)
        try:
            changed[section] = msgspec.convert(merged, kind, strict=False)
        except (msgspec.ValidationError, ValueError) as exc:
            raise ConfigError(f"{section}: {exc}") from None
    return msgspec.structs.replace(base, **changed)


def merge_overrides(current: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``current`` overrides deep-merged with ``patch`` (neither is modified)."""
    return _merge(copy.deepcopy(dict(current)), patch)


def _decode(raw: bytes | str | None) -> dict[str, Any]:
    return dict(msgspec.json.decode(raw)) if raw else {}


class LiveSettings:
    """A process's settings, refreshed from Redis when the overrides' version changes."""

    def __init__(self, base: Settings) -> None:
        self.base = base
        self.current = base
        self.version = 0
        self.overrides: dict[str, Any] = {}
        self.rejected_version = 0  # the last stored version found invalid here (its overrides are not used)
        self._read_at = float("-inf")  # when ``refresh_within`` last read Redis (monotonic)

    def _adopt(self, version: bytes | str | None, raw: bytes | str | None) -> Settings:
        number = int(version or 0)
        if number not in (self.version, self.rejected_version):
            try:
                overrides = _decode(raw)
                self.current = apply_overrides(self.base, overrides)
            except (ConfigError, msgspec.DecodeError, TypeError, ValueError) as exc:
                # Validated again on read: a value stored by an older release (or a process whose base differs)
                # never reaches a monitor pass; this process keeps its last good view and says why once.
                self.rejected_version = number
                log.warning("live_settings_rejected", version=number, error=str(exc), kept_version=self.version)
                return self.current
            self.version, self.overrides = number, overrides
        return self.current

    def changed(self, version: bytes | str | None) -> bool:
        """Return whether a stored version is news to this process (neither adopted nor rejected yet)."""
        return int(version or 0) not in (self.version, self.rejected_version)

    def adopt_version(self, version: bytes | str | None, channel: Channel) -> Settings:
        """Return the current settings given the stored version (read by the caller with other commands).

        The overrides are read only when the version differs from the one adopted last.
        """
        if not self.changed(version):
            return self.current
        return self.refresh_sync(channel)

    def refresh_sync(self, client: redis.Redis | Channel) -> Settings:
        """Return the current settings, reading Redis (one MGET; a worker's hot path passes its ``Channel``)."""
        if isinstance(client, Channel):
            version, raw = client.execute("MGET", keys.CONFIG_VERSION, keys.CONFIG_OVERRIDES)
        else:
            version, raw = client.mget([keys.CONFIG_VERSION, keys.CONFIG_OVERRIDES])
        return self._adopt(version, raw)

    async def refresh(self, client: aioredis.Redis) -> Settings:
        """Return the current settings, reading Redis (one MGET)."""
        version, raw = await client.mget([keys.CONFIG_VERSION, keys.CONFIG_OVERRIDES])
        return self._adopt(version, raw)

    async def refresh_within(self, client: aioredis.Redis, max_age_s: float) -> Settings:
        """Return the current settings, reading Redis only when the last read is older than ``max_age_s``.

        For hot paths (every submit): a change reaches them within ``max_age_s``, at one read per period.
        """
        now = time.monotonic()
        if now - self._read_at < max_age_s:
            return self.current
        self._read_at = now
        return await self.refresh(client)

    async def update(self, client: aioredis.Redis, patch: Mapping[str, Any]) -> Settings:
        """Validate ``patch`` merged onto the stored overrides, store it with a new version, return the result.

        Raises:
            ConfigError: the patch names another section, an unknown key or an invalid value.
        """
        merged = merge_overrides(_decode(await client.get(keys.CONFIG_OVERRIDES)), patch)
        apply_overrides(self.base, merged)
        async with client.pipeline(transaction=True) as pipe:
            pipe.set(keys.CONFIG_OVERRIDES, msgspec.json.encode(merged))
            pipe.incr(keys.CONFIG_VERSION)
            _ok, new_version = await pipe.execute()
        return self._adopt(str(new_version).encode(), msgspec.json.encode(merged))
