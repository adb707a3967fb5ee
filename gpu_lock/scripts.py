"""The Lua scripts: read from ``gpu_lock/lua`` on first use, called by SHA on one client.

The callers send ``EVALSHA`` (the sync lock through its ``redis_io.channel.Channel``) and load the
script only when Redis answers ``NOSCRIPT`` (a restarted or other server). redis-py's ``Script`` does
the same, with pipeline checks and argument copies on every call that a lock taken per task pays for twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import cache
from importlib.resources import files
from typing import Any, Generic, TypeVar

from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import NoScriptError

from redis_io.channel import Channel, ChannelScript

Arg = str | int | bytes
C = TypeVar("C", ChannelScript, "AsyncScript")


@cache
def script_source(name: str) -> str:
    """Return a script's source with the shared helpers of ``lib.lua`` in front."""
    lua = files("gpu_lock") / "lua"
    return (lua / "lib.lua").read_text("utf-8") + "\n" + (lua / f"{name}.lua").read_text("utf-8")


class AsyncScript:
    """One script on an asyncio client."""

    def __init__(self, client: AsyncRedis, source: str) -> None:
        self.client = client
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 (Redis names scripts by SHA-1)

    async def __call__(self, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """Run the script and return its reply."""
        try:
            return await self.client.execute_command(  # type: ignore[no-untyped-call]
                "EVALSHA", self.sha, len(keys), *keys, *args
            )
        except NoScriptError:
            await self.client.script_load(self.source)
            return await self.client.execute_command(  # type: ignore[no-untyped-call]
                "EVALSHA", self.sha, len(keys), *keys, *args
            )


class Scripts(Generic[C]):
    """Every gpu_lock script on one client."""

    def __init__(self, make: Callable[[str], C]) -> None:
        self.acquire: C = make(script_source("acquire"))
        self.renew: C = make(script_source("renew"))
        self.release: C = make(script_source("release"))
        self.force_release: C = make(script_source("force_release"))
        self.leave: C = make(script_source("leave"))


def sync_scripts(channel: Channel) -> Scripts[ChannelScript]:
    """Return the scripts called through a synchronous client's channel."""
    return Scripts(lambda source: ChannelScript(channel, source))


def async_scripts(client: AsyncRedis) -> Scripts[AsyncScript]:
    """Return the scripts called on an asyncio client."""
    return Scripts(lambda source: AsyncScript(client, source))
