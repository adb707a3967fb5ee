"""The leader lease: with several gateways and monitors, exactly one acts at a time."""

from __future__ import annotations

import secrets

import redis.asyncio as aioredis

from config import keys
from redis_io import AsyncChannel, LuaScript, text

_HOLD = LuaScript.load("monitor", "leader")
_RESIGN = LuaScript.load("monitor", "resign")
# The lease spans this many monitor intervals, so a leader that misses one pass keeps it.
LEASE_INTERVALS = 3
MIN_LEASE_S = 1.0


def lease_ms(monitor_interval_s: float) -> int:
    """Return the leader lease for a monitor interval: a follower takes over within one lease."""
    return int(max(MIN_LEASE_S, LEASE_INTERVALS * monitor_interval_s) * 1000)


class Leader:
    """Take, keep and give up the lease under a token of this monitor's own."""

    def __init__(self, client: aioredis.Redis, identity: str) -> None:
        self.client = client
        self.token = f"{identity}:{secrets.token_hex(4)}"
        self._channel = AsyncChannel(client)
        self.leading = False

    async def hold(self, lease_ms_: int) -> bool:
        """Take or renew the lease; return whether this monitor leads."""
        self.leading = bool(await _HOLD.run(self._channel, [keys.MONITOR_LEADER], [self.token, lease_ms_]))
        return self.leading

    async def resign(self) -> None:
        """Give the lease up so another monitor takes over at its next try."""
        if self.leading:
            await _RESIGN.run(self._channel, [keys.MONITOR_LEADER], [self.token])
        self.leading = False


async def current_leader(client: aioredis.Redis) -> str | None:
    """Return the token of the monitor that leads now, if any."""
    raw = await client.get(keys.MONITOR_LEADER)
    return None if raw is None else text(raw)
